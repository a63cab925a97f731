"""Using a phone's secure element: as a PC/SC reader (``vpcd``), listed and inspected
(``list``, ``info``, ``read-cert``), and for signing with its signing key: a PDF (``sign-pdf``)
or any file as CMS (``sign-cms``).

The commands are registered on the ``phone`` app in :mod:`mobile_jpki.cli.phone`.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.cli import office
from mobile_jpki.cli.card import (
    EXIT_REFUSED,
    EXIT_SETUP,
    EXIT_USAGE,
    Attached,
    DataDir,
    InFile,
    NoStatusCheck,
    OptDataDir,
    OutFile,
    Password,
    PemOut,
    SignedOut,
    Timestamp,
    TsaUrl,
    VpcdHost,
    VpcdPort,
    Which,
    WithCa,
    cli_errors,
    do_read_cert,
    fail,
    open_connection,
    run_vpcd,
    show_info,
)
from mobile_jpki.cli.office import BaseUrl, Service, secret
from mobile_jpki.cli.phone.session import AppRun, PhoneReq, launch
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.emulated import DeviceKind, list_devices
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.reader.passwords import normalise_sign_password
from mobile_jpki.reader.vpcd import DEFAULT_HOST, DEFAULT_PORT

PhoneId = Annotated[str, typer.Option("--phone", help="Id of the emulated phone.")]


def vpcd(
    data_dir: DataDir,
    phone: PhoneId = "phone",
    vpcd_host: VpcdHost = DEFAULT_HOST,
    vpcd_port: VpcdPort = DEFAULT_PORT,
) -> None:
    """Put a phone's secure element into vpcd's virtual reader (it answers the card's ATR,
    so PC/SC tools and OpenSC treat it like a My Number Card).

    The demo's phones are `old-phone` and `new-phone`. On a phone the auth certificate needs
    the auth PIN before it can be read. Ctrl-C or SIGTERM takes it out.
    """
    run_vpcd(DeviceKind.PHONE, data_dir, phone, vpcd_host, vpcd_port)


def list_phones(data_dir: DataDir) -> None:
    """List the emulated phones of a data directory."""
    for name in list_devices(data_dir, DeviceKind.PHONE):
        typer.echo(name)


def info(data_dir: OptDataDir = None, phone: PhoneId = "phone") -> None:
    """Token label, certificates present and tries left. Costs no password try."""
    with cli_errors():
        conn = open_connection(DeviceKind.PHONE, data_dir, phone, False, None)
        try:
            show_info(conn)
        finally:
            conn.close()


def read_cert(
    which: Which,
    out: OutFile = None,
    data_dir: OptDataDir = None,
    phone: PhoneId = "phone",
    password: Password = None,
) -> None:
    """Read a certificate and print it as PEM. On a phone both end-entity certificates need
    their secret first: --password is the signing password (sign) or the auth PIN (auth)."""
    do_read_cert(DeviceKind.PHONE, which, out, data_dir, phone, password, False, None)


PhonePassword = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="The phone signing password. Prompted (hidden) when absent.",
        envvar="MOBILE_JPKI_PHONE_PASSWORD",
    ),
]


@dataclass
class _Signer:
    """The phone's signing key, unlocked, and its certificate, checked good with the CA."""

    run: AppRun
    key: ApduRSAPrivateKey
    cert: x509.Certificate
    issuer: x509.Certificate | None
    now: dt.datetime


@contextmanager
def _phone_signer(
    data_dir: Path, phone: str, base_url: str | None, password: str | None, no_status_check: bool
) -> Iterator[_Signer]:
    """Launch the app, unlock the element's signing key with the password, and pass the
    status gate (:func:`mobile_jpki.cli.signing.require_good_status`) before anything signs."""
    from mobile_jpki.cli.signing import ServiceFetcher, require_good_status
    from mobile_jpki.verify.certificate import TrustAnchors

    with launch(data_dir, phone, base_url, secret=Hierarchy.SIGN) as run:
        value = normalise_sign_password(
            secret(password, flag="--password", prompt="Phone signing password (パスワード)")
        )
        element = run.phone.element
        element.select_ap()
        element.verify(Hierarchy.SIGN, value)
        cert = element.read_certificate(Hierarchy.SIGN)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            fail("the phone's signing certificate is not RSA", EXIT_SETUP)
        roots = tuple(
            x509.load_der_x509_certificate(base64.b64decode(d))
            for d in run.phone.api.info()["sign_ca"]
        )
        issuer = TrustAnchors(roots).issuer_of(cert)
        now = office.clock.now()
        require_good_status(
            cert, issuer, ServiceFetcher(run.svc.http), now=now, skip=no_status_check
        )
        yield _Signer(run, ApduRSAPrivateKey(element, Hierarchy.SIGN, public), cert, issuer, now)


def sign_pdf_cmd(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help="The PDF to sign.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write it signed.")],
    data_dir: DataDir,
    phone: PhoneReq,
    password: PhonePassword = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="PAdES level B-B, B-T or B-LT (default: B-T when the service serves /tsa, "
            "else B-B).",
        ),
    ] = None,
    no_status_check: NoStatusCheck = False,
    base_url: BaseUrl = None,
) -> None:
    """Sign a PDF (PAdES) with the phone's signing key, inside its secure element: the
    registered 署名用電子証明書 after seed ⑬. The CA is asked first whether the certificate
    is revoked or held (一時利用停止): then nothing is signed (exit 6)."""
    from mobile_jpki.cli.signing import check_output, read_input
    from mobile_jpki.signing import Level, PdfSigningError, check_pdf, sign_pdf_bytes

    levels = {lv.value: lv for lv in Level}
    if level is not None and level not in levels:
        fail(f"--level is one of {', '.join(levels)}", EXIT_USAGE)
    pdf = read_input(in_path)
    try:
        # Before the password is asked: a file that is no PDF costs no try and no signature.
        check_pdf(pdf)
    except PdfSigningError as exc:
        fail(f"{in_path}: {exc.message}", EXIT_USAGE)
    check_output(out_path)
    with _phone_signer(data_dir, phone, base_url, password, no_status_check) as s:
        tsa = _tsa_exchange(s.run.svc)
        chosen = levels[level] if level else (Level.B_T if tsa else Level.B_B)
        if chosen is not Level.B_B and tsa is None:
            fail(f"{chosen.value} needs a time-stamp service; this service has no /tsa",
                 EXIT_USAGE)  # fmt: skip
        try:
            signed = sign_pdf_bytes(
                pdf, s.key, s.cert, [s.issuer] if s.issuer is not None else [], level=chosen,
                tsa_exchange=tsa, now=s.now,
            )  # fmt: skip
        except PdfSigningError as exc:
            fail(f"cannot sign {in_path}: {exc}", EXIT_REFUSED)
    try:
        out_path.write_bytes(signed)
    except OSError as exc:
        fail(f"{out_path}: cannot write: {exc.strerror}", EXIT_USAGE)
    typer.echo(f"{out_path}: signed ({chosen.value}) by serial {s.cert.serial_number:x}")


def sign_cms_cmd(
    in_path: InFile,
    out_path: SignedOut,
    data_dir: DataDir,
    phone: PhoneReq,
    password: PhonePassword = None,
    attached: Attached = False,
    with_ca: WithCa = False,
    pem: PemOut = False,
    timestamp: Timestamp = False,
    tsa_url: TsaUrl = None,
    no_status_check: NoStatusCheck = False,
    base_url: BaseUrl = None,
) -> None:
    """Sign a file (CMS SignedData, RFC 5652; CAdES B-B, B-T with a time-stamp) with the
    phone's signing key, inside its secure element, after checking with the CA that the
    certificate is neither revoked nor held (exit 6 when it is).

    Verify with `mobile-jpki verify cms OUT --data IN --trust sign-ca.pem`, or `openssl cms
    -verify -binary -inform DER -in OUT -content IN -CAfile sign-ca.pem -purpose any`.
    """
    from mobile_jpki.cli.signing import (
        check_output,
        describe,
        make_cms,
        read_input,
        service_timestamper,
        write_output,
    )
    from mobile_jpki.signing.timestamp import HttpTimestamper

    content = read_input(in_path)
    check_output(out_path)
    with _phone_signer(data_dir, phone, base_url, password, no_status_check) as s:
        stamper = (
            HttpTimestamper(tsa_url)
            if tsa_url
            else service_timestamper(s.run.svc.http)
            if timestamp
            else None
        )
        der = make_cms(
            content, s.key, s.cert, now=s.now,
            chain=[s.issuer] if with_ca and s.issuer is not None else [],
            attached=attached, timestamper=stamper,
        )  # fmt: skip
    write_output(out_path, der, pem=pem)
    typer.echo(describe(out_path, s.cert, attached=attached, stamped=stamper is not None))


def _tsa_exchange(svc: Service) -> Callable[[bytes], bytes] | None:
    """The service's RFC 3161 ``/tsa`` over the command's own connection (in process or
    ``--base-url``), or None when the service does not serve it (POST-only: a GET answers
    405, an absent route 404). Going through ``svc.http`` rather than handing pyHanko a URL
    is what lets an in-process data directory time-stamp too."""
    if svc.http.get("/tsa").status_code == 404:
        return None

    def exchange(request: bytes) -> bytes:
        response = svc.http.post(
            "/tsa", content=request, headers={"Content-Type": "application/timestamp-query"}
        )
        if response.status_code != 200:
            fail(f"the time-stamp service answered HTTP {response.status_code}", EXIT_REFUSED)
        return response.content

    return exchange
