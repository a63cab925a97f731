"""``mobile-jpki card``: the emulated My Number Card (and real cards through PC/SC).

Exit codes, shared by every command (``card``, ``phone``, ``office``; docs/cli.md):
0 success (also after Ctrl-C/SIGTERM ends ``vpcd``, and やめる at a consent dialog);
2 usage error (bad id, malformed password, a secret missing without a terminal);
3 not found (emulated device, app profile, person or record in the service);
4 refused (the card or element: wrong or blocked password, missing file; the service: revoked,
not eligible, consent needed, bad signature); 5 data directory or state problem;
6 the signing certificate is revoked, held, expired or unknown to the CA (nothing signed);
1 reader or network transport failure (also: a signing command could not learn its
certificate's status).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from cryptography.hazmat.primitives.serialization import Encoding

from mobile_jpki.applet import JpkiApplet, StateError
from mobile_jpki.keys.errors import KeyStoreError
from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.phone.profile import ProfileCorrupt, ProfileNotFound
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import CardConnection, InProcessConnection
from mobile_jpki.reader.emulated import (
    DeviceError,
    DeviceKind,
    DeviceNotFound,
    InvalidDeviceId,
    list_devices,
    open_device,
)
from mobile_jpki.reader.errors import (
    ApduError,
    AuthenticationMethodBlocked,
    InvalidSecret,
    ReaderError,
    SecretBlocked,
    TransportError,
    WrongSecret,
    secret_name,
)
from mobile_jpki.reader.statefile import StateFileError
from mobile_jpki.reader.vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdBridge, serve_until_signalled
from mobile_jpki.settings import SettingsError

EXIT_FAILURE, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_SETUP = 1, 2, 3, 4, 5
# Not folded into 4: a script must tell "wrong password, try again" from "this certificate
# will never sign again (or not until the hold is released)".
EXIT_CERT = 6

app = typer.Typer(
    help="The emulated My Number Card: attach it to a PC/SC reader (vpcd) or inspect it. "
    "`info` and `read-cert` also work on a real card in a real reader (--pcsc).",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir", help="Data directory (devices live in DIR/devices/).",
        envvar="MOBILE_JPKI_DATA_DIR",
    ),
]  # fmt: skip
VpcdHost = Annotated[
    str, typer.Option("--vpcd-host", help="Where vpcd listens (pcscd's vpcd driver).")
]
VpcdPort = Annotated[
    int,
    typer.Option(
        "--vpcd-port",
        help="vpcd's port for the slot to use: 35963 is 'Virtual PCD 00 00', 35964 the next "
        "(see /etc/reader.conf.d/vpcd).",
    ),
]


def fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def cli_errors(secret: Hierarchy | None = None) -> Iterator[None]:
    """One line per failure, never a traceback.

    ``secret`` is the secret the command checks (signing → the password, user authentication
    → the 4-digit PIN): a wrong or blocked one is named so. A refusal from
    :meth:`JpkiClient.verify` names its own slot, which wins (a command may verify both)."""
    try:
        yield
    except InvalidDeviceId as exc:
        fail(str(exc), EXIT_USAGE)
    except DeviceNotFound as exc:
        fail(f"{exc} (create it with `mobile-jpki demo` or the service)", EXIT_NOT_FOUND)
    except ProfileNotFound as exc:
        fail(str(exc), EXIT_NOT_FOUND)
    except InvalidSecret as exc:
        fail(str(exc), EXIT_USAGE)
    except WrongSecret as exc:
        fail(f"wrong {secret_name(exc.secret or secret)} ({exc.tries_left} tries left)",
             EXIT_REFUSED)  # fmt: skip
    except (SecretBlocked, AuthenticationMethodBlocked) as exc:
        # 69 83 is the user-authentication key's (biometrics while its PIN is blocked).
        slot = exc.secret if isinstance(exc, SecretBlocked) else Hierarchy.AUTH
        fail(
            f"the {secret_name(slot or secret)} is blocked (a phone's: `mobile-jpki phone "
            "reset-password`; a card's: at the municipal office)",
            EXIT_REFUSED,
        )
    except ApduError as exc:
        fail(f"the card refused: {exc} (SW {exc.sw:04X})", EXIT_REFUSED)
    except PortalProblem as exc:
        detail = exc.body.get("detail") or exc.body.get("title") or ""
        code = EXIT_NOT_FOUND if exc.status == 404 else EXIT_REFUSED
        fail(f"the service refused ({exc.code}): {detail}".rstrip(": "), code)
    except httpx.TransportError as exc:
        fail(f"cannot reach the service: {exc}", EXIT_FAILURE)
    except (DeviceError, StateError, StateFileError, SettingsError, ProfileCorrupt) as exc:
        fail(str(exc), EXIT_SETUP)
    except KeyStoreError as exc:  # a data directory whose keys the database does not record
        fail(str(exc), EXIT_SETUP)
    except TransportError as exc:
        fail(str(exc), EXIT_FAILURE)
    except ReaderError as exc:
        fail(str(exc), EXIT_FAILURE)
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror}", EXIT_SETUP)


def run_vpcd(kind: DeviceKind, data_dir: Path, device_id: str, host: str, port: int) -> None:
    """Shared by ``card vpcd`` and ``phone vpcd``."""
    with cli_errors():
        applet = open_device(data_dir, kind, device_id)
        label = JpkiClient(InProcessConnection(applet)).token_label()
        applet.power_on()  # leave the applet as fresh as a card just inserted
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    def connected() -> None:
        typer.echo(f"vpcd connected: the {kind.value} is in the reader", err=True)

    bridge = VpcdBridge(applet, host, port, on_connect=connected)
    typer.echo(
        f"serving emulated {kind.value} {device_id!r} ({label}) to vpcd at {host}:{port}; "
        "Ctrl-C to remove it",
        err=True,
    )
    serve_until_signalled(bridge)
    typer.echo(f"{kind.value} removed from the reader", err=True)


@app.command("vpcd")
def vpcd(
    data_dir: DataDir,
    card: Annotated[str, typer.Option("--card", help="Id of the emulated card.")] = "card",
    vpcd_host: VpcdHost = DEFAULT_HOST,
    vpcd_port: VpcdPort = DEFAULT_PORT,
) -> None:
    """Put an emulated card into vpcd's virtual reader, so every PC/SC program sees it.

    Needs pcscd with the vsmartcard-vpcd driver (Debian: apt install pcscd vsmartcard-vpcd).
    Then, in another terminal: `opensc-tool -l`, `pkcs15-tool --list-certificates`,
    `pkcs11-tool --module opensc-pkcs11.so -L`. Starts before or after pcscd (it retries);
    Ctrl-C or SIGTERM takes the card out.
    """
    run_vpcd(DeviceKind.CARD, data_dir, card, vpcd_host, vpcd_port)


@app.command("list")
def list_cards(data_dir: DataDir) -> None:
    """List the emulated cards of a data directory."""
    for name in list_devices(data_dir, DeviceKind.CARD):
        typer.echo(name)


def open_connection(
    kind: DeviceKind, data_dir: Path | None, device_id: str, pcsc: bool, reader: str | None
) -> CardConnection:
    if pcsc or reader:
        from mobile_jpki.reader.pcsc import PcscConnection

        return PcscConnection(reader)
    if data_dir is None:
        fail("give --data-dir (emulated device) or --pcsc (a card in a reader)", EXIT_USAGE)
    applet: JpkiApplet = open_device(data_dir, kind, device_id)
    return InProcessConnection(applet)


def _tries(client: JpkiClient, hierarchy: Hierarchy, certified: bool) -> str:
    """What VERIFY's status query (ISO 7816-4 §11.5.6, no data) says, in words.

    The applet answers ``69 84`` (reference data not usable) both for a blocked secret and for
    one never set (``applet/jpki.py`` VERIFY): a new phone has no secrets until its first
    application (⑩).
    With no certificate in the slot the secret guards nothing a person can use, and the next
    application sets its own (clearing any left by an unfinished one), so "not set" is what is
    true for them; with a certificate, ``69 84`` can only mean blocked.
    """
    left = client.tries_left(hierarchy)
    if left > 0:
        return str(left)
    return "0 (blocked)" if certified else "not set"


def show_info(conn: CardConnection) -> None:
    client = JpkiClient(conn)
    present = client.presence()
    rows = [
        ("ATR", conn.atr().hex(" ").upper()),
        ("token", client.token_label()),
        ("certificates", ", ".join(h.value for h, ok in present.items() if ok) or "none"),
        ("signing password tries left", _tries(client, Hierarchy.SIGN, present[Hierarchy.SIGN])),
        ("auth PIN tries left", _tries(client, Hierarchy.AUTH, present[Hierarchy.AUTH])),
    ]
    for name, value in rows:
        typer.echo(f"{name + ':':<29} {value}")


PcscFlag = Annotated[
    bool, typer.Option("--pcsc", help="Use a real card in a PC/SC reader instead.")
]
ReaderOpt = Annotated[
    str | None, typer.Option("--reader", help="PC/SC reader name (or part of it); implies --pcsc.")
]
OptDataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory.", envvar="MOBILE_JPKI_DATA_DIR"),
]


@app.command("info")
def info(
    data_dir: OptDataDir = None,
    card: Annotated[str, typer.Option("--card", help="Id of the emulated card.")] = "card",
    pcsc: PcscFlag = False,
    reader: ReaderOpt = None,
) -> None:
    """Token label, certificates present and tries left. Costs no password try."""
    with cli_errors():
        conn = open_connection(DeviceKind.CARD, data_dir, card, pcsc, reader)
        try:
            show_info(conn)
        finally:
            conn.close()


Which = Annotated[str, typer.Argument(help="sign, auth, sign-ca or auth-ca", show_default=False)]
OutFile = Annotated[Path | None, typer.Option("-o", "--out", help="PEM file (default: stdout).")]
Password = Annotated[
    str | None,
    typer.Option("--password", help="Signing password (sign) or auth PIN (auth on a phone)."),
]


# -- options of the signing commands (card sign-cms, phone sign-cms and sign-pdf) -------------
InFile = Annotated[Path, typer.Argument(metavar="IN", help="The file to sign.")]
SignedOut = Annotated[Path, typer.Argument(metavar="OUT", help="Where to write the signature.")]
Attached = Annotated[
    bool,
    typer.Option(
        "--attached", help="Put the content inside the signature (default: detached, RFC 5652 "
        "§5.2 eContent absent; the verifier needs the file too).",
    ),
]  # fmt: skip
WithCa = Annotated[
    bool,
    typer.Option("--with-ca", help="Also include the issuing CA certificate in the signature."),
]
PemOut = Annotated[bool, typer.Option("--pem", help="Write PEM (-----BEGIN CMS-----), not DER.")]
Timestamp = Annotated[
    bool,
    typer.Option(
        "--timestamp", help="Add an RFC 3161 signature time-stamp from the service's /tsa "
        "(CAdES B-T).",
    ),
]  # fmt: skip
TsaUrl = Annotated[
    str | None,
    typer.Option("--tsa-url", help="Add an RFC 3161 time-stamp from this TSA URL instead."),
]
NoStatusCheck = Annotated[
    bool,
    typer.Option(
        "--no-status-check", help="Sign without first asking the CA whether the certificate is "
        "revoked or held (by default a signing command refuses when it cannot learn that).",
    ),
]  # fmt: skip


# -- options of `card authorize` and `phone authorize` (the デジタル認証アプリ's side) ------------
AuthUrl = Annotated[
    str,
    typer.Argument(
        metavar="URL",
        help="The relying party's authorization URL (…/protocol/openid-connect/auth?…), the "
        "web step's app link (mobile-jpki-auth://authorize?url=…) or its device-approval URL.",
        show_default=False,
    ),
]
Deny = Annotated[
    bool,
    typer.Option("--deny", help="Decline (やめる): the relying party gets error=access_denied."),
]


@app.command("sign-cms")
def sign_cms_cmd(
    in_path: InFile,
    out_path: SignedOut,
    data_dir: OptDataDir = None,
    card: Annotated[str, typer.Option("--card", help="Id of the emulated card.")] = "card",
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="The card's signing password. Prompted (hidden) when absent.",
            envvar="MOBILE_JPKI_CARD_PASSWORD",
        ),
    ] = None,
    attached: Attached = False,
    with_ca: WithCa = False,
    pem: PemOut = False,
    timestamp: Timestamp = False,
    tsa_url: TsaUrl = None,
    no_status_check: NoStatusCheck = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Ask a running `mobile-jpki serve` for the certificate's status "
            "and time-stamp (default: the service of --data-dir, in-process).",
            envvar="MOBILE_JPKI_BASE_URL",
        ),
    ] = None,
    pcsc: PcscFlag = False,
    reader: ReaderOpt = None,
) -> None:
    """Sign a file (CMS SignedData, RFC 5652) with the card's signing key (署名用電子証明書),
    after checking with the CA that the certificate is neither revoked nor held.

    Verify with `mobile-jpki verify cms OUT --data IN --trust sign-ca.pem`, or `openssl cms
    -verify -binary -inform DER -in OUT -content IN -CAfile sign-ca.pem -purpose any`.
    """
    from mobile_jpki.cli.signing import card_sign_cms

    card_sign_cms(
        in_path, out_path, data_dir=data_dir, card=card, password=password, attached=attached,
        with_ca=with_ca, pem=pem, timestamp=timestamp, tsa_url=tsa_url,
        no_status_check=no_status_check, base_url=base_url, pcsc=pcsc, reader=reader,
    )  # fmt: skip


@app.command("authorize")
def authorize(
    url: AuthUrl,
    data_dir: DataDir,
    card: Annotated[str, typer.Option("--card", help="Id of the emulated card.")] = "card",
    pin: Annotated[
        str | None,
        typer.Option(
            "--pin",
            help="The card's user-authentication PIN (暗証番号, 4 digits). Prompted (hidden) "
            "when absent.",
            envvar="MOBILE_JPKI_CARD_PIN",
        ),
    ] = None,
    sign_password: Annotated[
        str | None,
        typer.Option(
            "--sign-password",
            help="The card's signing password, asked only when facts or a signature are "
            "requested. Prompted (hidden) when absent.",
            envvar="MOBILE_JPKI_CARD_PASSWORD",
        ),
    ] = None,
    deny: Deny = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Talk to a running `mobile-jpki serve` at this URL (default: the service of "
            "--data-dir, in-process).",
            envvar="MOBILE_JPKI_BASE_URL",
        ),
    ] = None,
) -> None:
    """Do what the デジタル認証アプリ does with the card held to the phone (NFC) when a relying
    party's authorization URL is opened: show who asks for what, sign the service's challenge
    with the card's user-auth key (4-digit PIN) and, when facts or a signature are asked, with
    its signing key (signing password), and print the redirect URL (code and state) last.

    A refusal by the service prints `refused: <reason>` and exits 4; a URL of another
    service exits 2. --deny declines: the redirect carries error=access_denied.
    """
    from mobile_jpki.cli.authapp import card_authorize

    card_authorize(
        url, data_dir=data_dir, card=card, pin=pin, sign_password=sign_password, decline=deny,
        base_url=base_url,
    )  # fmt: skip


def do_read_cert(
    kind: DeviceKind,
    which: str,
    out: Path | None,
    data_dir: Path | None,
    device: str,
    password: str | None,
    pcsc: bool,
    reader: str | None,
) -> None:
    """Shared by ``card read-cert`` and ``phone read-cert``."""
    choices = {
        "sign": (Hierarchy.SIGN, False), "auth": (Hierarchy.AUTH, False),
        "sign-ca": (Hierarchy.SIGN, True), "auth-ca": (Hierarchy.AUTH, True),
    }  # fmt: skip
    if which not in choices:
        fail(f"choose one of {', '.join(choices)}", EXIT_USAGE)
    hierarchy, ca = choices[which]
    with cli_errors(hierarchy):
        conn = open_connection(kind, data_dir, device, pcsc, reader)
        try:
            client = JpkiClient(conn)
            if password is not None:
                client.verify(hierarchy, password)
            pem = client.read_certificate(hierarchy, ca=ca).public_bytes(Encoding.PEM)
        finally:
            conn.close()
        if out is None:
            typer.echo(pem.decode(), nl=False)
        else:
            out.write_bytes(pem)


@app.command("read-cert")
def read_cert(
    which: Which,
    out: OutFile = None,
    data_dir: OptDataDir = None,
    card: Annotated[str, typer.Option("--card", help="Id of the emulated card.")] = "card",
    password: Password = None,
    pcsc: PcscFlag = False,
    reader: ReaderOpt = None,
) -> None:
    """Read a certificate (byte for byte as stored) and print it as PEM.

    The signing certificate needs --password (the signing password) first.
    """
    do_read_cert(DeviceKind.CARD, which, out, data_dir, card, password, pcsc, reader)
