"""``mobile-jpki phone``: the Mynaportal app's flows on an emulated phone, and its secure element.

Each flow command is one launch of the app (seed ①-⑬ and the lifecycle around them): it loads
the app's profile (:mod:`mobile_jpki.phone.profile`), opens the phone's secure element and, for
card-signed steps, the emulated My Number Card from ``--data-dir``, talks to the service
in-process or over HTTP (``--base-url``), and saves the profile again. The steps themselves are
library code (:class:`~mobile_jpki.phone.steps.ScriptedPhone`,
:class:`~mobile_jpki.phone.app.portal_backend.PortalBackend`); this module parses and renders.

Exit codes as ``mobile-jpki card`` (see :mod:`mobile_jpki.cli.card` and docs/cli.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.cli import office
from mobile_jpki.cli.card import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_SETUP,
    EXIT_USAGE,
    DataDir,
    OptDataDir,
    OutFile,
    Password,
    VpcdHost,
    VpcdPort,
    Which,
    cli_errors,
    do_read_cert,
    fail,
    open_connection,
    run_vpcd,
    show_info,
)
from mobile_jpki.cli.office import BaseUrl, Service, connect, secret
from mobile_jpki.lifecycle import release_plan, revocation_secret
from mobile_jpki.phone.app import backend as be
from mobile_jpki.phone.app.portal_backend import PortalBackend
from mobile_jpki.phone.app.texts import text
from mobile_jpki.phone.profile import AppProfile, ProfileStore
from mobile_jpki.phone.steps import HIERARCHY_OF, ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import (
    DeviceKind,
    create_phone,
    device_path,
    list_devices,
    open_card,
    open_phone,
)
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin
from mobile_jpki.reader.vpcd import DEFAULT_HOST, DEFAULT_PORT

app = typer.Typer(
    help="The Mynaportal app on an emulated phone (スマホ用電子証明書: apply, 機種変更, register, "
    "revoke, reset, sign) and its secure element (vpcd, info, read-cert). Start with "
    "`phone new`, or use the demo's `old-phone` / `new-phone`.",
    no_args_is_help=True,
)

PhoneId = Annotated[str, typer.Option("--phone", help="Id of the emulated phone.")]


@app.command("vpcd")
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


@app.command("list")
def list_phones(data_dir: DataDir) -> None:
    """List the emulated phones of a data directory."""
    for name in list_devices(data_dir, DeviceKind.PHONE):
        typer.echo(name)


@app.command("info")
def info(data_dir: OptDataDir = None, phone: PhoneId = "phone") -> None:
    """Token label, certificates present and tries left. Costs no password try."""
    with cli_errors():
        conn = open_connection(DeviceKind.PHONE, data_dir, phone, False, None)
        try:
            show_info(conn)
        finally:
            conn.close()


@app.command("read-cert")
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


# == the app's flows ===========================================================================
PhoneReq = Annotated[str, typer.Option("--phone", help="Id of the emulated phone (its app).")]
CardId = Annotated[
    str, typer.Option("--card", help="Id of the emulated My Number Card held to the phone.")
]
CardPassword = Annotated[
    str | None,
    typer.Option(
        "--card-password",
        help="The card's signing password (④). Prompted (hidden) when absent.",
        envvar="MOBILE_JPKI_CARD_PASSWORD",
    ),
]
SignPassword = Annotated[
    str | None,
    typer.Option(
        "--sign-password",
        help="The phone's signing password (6-16 of A-Z/0-9, letters and digits mixed). "
        "Prompted (hidden) when absent.",
        envvar="MOBILE_JPKI_PHONE_PASSWORD",
    ),
]
AuthPin = Annotated[
    str | None,
    typer.Option(
        "--auth-pin",
        help="The phone's user-authentication PIN (4 digits). Prompted (hidden) when absent.",
        envvar="MOBILE_JPKI_PHONE_PIN",
    ),
]
NAMES = {Hierarchy.SIGN: "署名用電子証明書", Hierarchy.AUTH: "利用者証明用電子証明書"}


@dataclass
class AppRun:
    """One launch of the app: the service, the phone's steps, and its saved profile."""

    svc: Service
    phone: ScriptedPhone
    store: ProfileStore
    profile: AppProfile
    data_dir: Path

    def card(self, card_id: str) -> JpkiClient:
        return JpkiClient(
            InProcessConnection(open_card(self.data_dir, card_id, clock=office.clock))
        )

    def pushes(self) -> list[str]:
        """New push topics delivered to this phone (handled ids are remembered)."""
        return self.phone.handle_push(self.svc.inbox(self.profile.device_id))

    def save(self) -> None:
        updated = self.profile.updated(seen_push=self.phone.seen_push)
        if updated != self.profile:
            self.store.save(updated)
            self.profile = updated


def _sign_document(content: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    from mobile_jpki.signing.cms import sign_cms

    return sign_cms(content, key, cert, signing_time=office.clock.now(), detached=False)


def _scripted(svc: Service, element: JpkiClient, credential: str | None) -> ScriptedPhone:
    return ScriptedPhone(
        api=svc.portal(credential),
        element=element,
        sign_document=_sign_document,
        clock=office.clock,
    )


@contextmanager
def launch(data_dir: Path, phone_id: str, base_url: str | None) -> Iterator[AppRun]:
    """Open the phone's element and profile, connect, and save the profile on the way out
    (also after a refusal: secrets set on the element before it must be remembered)."""
    with cli_errors():
        element = JpkiClient(
            InProcessConnection(open_phone(data_dir, phone_id, clock=office.clock))
        )
        store = ProfileStore(data_dir, phone_id)
        profile = store.load()
        with connect(data_dir, base_url) as svc:
            phone = _scripted(svc, element, profile.credential)
            phone.device_id = profile.device_id
            phone.seen_push = set(profile.seen_push)
            run = AppRun(svc, phone, store, profile, data_dir)
            try:
                with _backend_errors():
                    yield run
            finally:
                run.save()


@contextmanager
def _backend_errors() -> Iterator[None]:
    """The app backend's errors (:mod:`mobile_jpki.phone.app.backend`) on the same exit codes."""
    try:
        yield
    except be.IncorrectSecret as exc:
        fail(f"wrong {_secret_name(exc.which)}: {exc.tries_left} tries left", EXIT_REFUSED)
    except be.SecretLocked as exc:
        hint = (
            "reset it with `mobile-jpki phone reset-password`"
            if exc.which in (be.SecretKind.PHONE_SIGN, be.SecretKind.PHONE_AUTH)
            else "unblock it at the municipal office"
        )
        fail(f"the {_secret_name(exc.which)} is blocked: {hint}", EXIT_REFUSED)
    except be.Unavailable as exc:
        fail(f"unavailable: {exc.detail}", EXIT_FAILURE)
    except be.Rejected as exc:
        if exc.code == "password-format":
            fail(exc.detail, EXIT_USAGE)
        fail(f"refused ({exc.code}){': ' + exc.detail if exc.detail else ''}", EXIT_REFUSED)


def _secret_name(which: be.SecretKind) -> str:
    return {
        be.SecretKind.CARD_SIGN: "card signing password",
        be.SecretKind.CARD_AUTH: "card user-auth PIN",
        be.SecretKind.PHONE_SIGN: "phone signing password",
        be.SecretKind.PHONE_AUTH: "phone user-auth PIN",
    }[which]


@app.command("new")
def new(
    data_dir: DataDir,
    phone: PhoneReq,
    ios: Annotated[
        bool, typer.Option("--ios", help="An iPhone secure element (JPKIAPIOSTOKEN).")
    ] = False,
    base_url: BaseUrl = None,
) -> None:
    """A new phone: create its emulated secure element and enrol the app with the service
    (the element's factory attestation). Before seed ①. Resumes an enrolment that failed."""
    from mobile_jpki.protocol.constants import Profile

    with cli_errors():
        store = ProfileStore(data_dir, phone)
        if store.exists():
            fail(f"phone {phone!r} already exists and is enrolled", EXIT_SETUP)
        if device_path(data_dir, DeviceKind.PHONE, phone).exists():
            applet = open_phone(data_dir, phone, clock=office.clock)  # enrolment failed before
        else:
            kind = Profile.PHONE_IOS if ios else Profile.PHONE_ANDROID
            applet = create_phone(data_dir, phone, clock=office.clock, profile=kind)
        with connect(data_dir, base_url) as svc:
            scripted = _scripted(svc, JpkiClient(InProcessConnection(applet)), None)
            channel = "inprocess" if svc.system is not None else "sse"
            device_id = scripted.enrol(push_channel=channel)
            credential = scripted.api.credential
            if credential is None:
                fail("the service returned no device credential", EXIT_FAILURE)
            store.save(AppProfile(phone, device_id, credential))
    typer.echo(f"phone {phone!r} enrolled as device {device_id}")


def _consent_dialog() -> bool:
    """⑨ 「旧スマホ用電子証明書は失効されます」: True for 同意して次へ, False for やめる."""
    typer.echo(text("revoke_old_title"))
    typer.echo(text("revoke_old_body"))
    if not office.interactive():
        fail("the service asks for consent to revoke the other phone's certificates: "
             "pass --consent to agree (同意して次へ)", EXIT_USAGE)  # fmt: skip
    while True:
        choice = str(typer.prompt("1) 同意して次へ  2) やめる")).strip()
        if choice in ("1", "2"):
            return choice == "1"
        typer.echo("1 か 2 を入力してください (1 to agree, 2 to stop)")


def _cancelled() -> NoReturn:
    typer.echo("やめる: nothing was applied for")
    raise typer.Exit(0)


def _new_secret(h: Hierarchy, value: str | None) -> str:
    """⑩ one new phone secret (twice when prompted). Every attempt sets its own: an abandoned
    attempt's secrets go with the keys they guarded (docs/lifecycle.md)."""
    if h is Hierarchy.SIGN:
        return normalise_sign_password(
            secret(value, flag="--sign-password", confirm=True,
                   prompt="New phone signing password (6-16, A-Z and 0-9)")
        )  # fmt: skip
    return validate_auth_pin(
        secret(value, flag="--auth-pin", confirm=True, prompt="New phone user-auth PIN (4 digits)")
    )


# Well-formed fillers for a secret of a certificate that is not being registered: never sent
# to the element (ScriptedPhone.register uses only the ready certificates' secrets).
_FILLER = {Hierarchy.SIGN: "UNUSED0", Hierarchy.AUTH: "0000"}


def _apply(
    kind: ApplicationKind,
    data_dir: Path,
    phone: str,
    card: str,
    sign: bool,
    auth: bool,
    accept_terms: bool,
    consent: bool,
    card_password: str | None,
    sign_password: str | None,
    auth_pin: str | None,
    base_url: str | None,
) -> None:
    certs = frozenset(h for h, on in ((Hierarchy.SIGN, sign), (Hierarchy.AUTH, auth)) if on)
    if not certs:
        fail("⑤ tick at least one certificate (--sign and/or --auth)", EXIT_USAGE)
    with launch(data_dir, phone, base_url) as run:
        card_client = run.card(card)
        backend = PortalBackend(run.phone, lambda: card_client, lambda: [])
        # ④ the card's signing password (checked on the host first: a typo costs no try).
        password = normalise_sign_password(
            secret(card_password, flag="--card-password",
                   prompt="④ マイナンバーカード用署名用電子証明書のパスワード")
        )  # fmt: skip
        # ⑥ the terms.
        terms_version = str(run.phone.api.info()["terms_version"])
        if not accept_terms:
            typer.echo(text("terms_article1"))
            if not office.interactive():
                fail("⑥ accept the terms with --accept-terms (確認しました)", EXIT_USAGE)
            if not typer.confirm("⑥ 確認しました"):
                _cancelled()
        # ⑦⑧ 申請する, read the card (VERIFY and the card certificate; nothing applied yet).
        draft = backend.start_application(kind, certs, terms_version, password)
        # ⑨ a model change always means another phone: ask before the new passwords.
        if draft.other_device_holds and not consent:
            if not _consent_dialog():
                _cancelled()
            consent = True
        # ⑩ the new passwords of the certificates applied for.
        given = {Hierarchy.SIGN: sign_password, Hierarchy.AUTH: auth_pin}
        chosen = {h: _new_secret(h, given[h]) for h in sorted(certs)}
        secrets = be.NewSecrets(
            sign_password=chosen.get(Hierarchy.SIGN), auth_pin=chosen.get(Hierarchy.AUTH)
        )
        # ⑪ send (card-signed). A first application may still meet another phone (⑨ then).
        try:
            backend.confirm_application(draft, consent_to_revoke=consent, secrets=secrets)
        except be.Rejected as exc:
            if exc.code != be.CONSENT_REQUIRED or consent:
                raise
            if not _consent_dialog():
                _cancelled()
            backend.confirm_application(draft, consent_to_revoke=True, secrets=secrets)
        typer.echo("⑪ 申請の完了: スマホ用電子証明書の利用申請しました")
        run.svc.work()
        for topic in run.pushes():
            typer.echo(
                f"push: {topic} ({text('push_ready') if topic == 'registration-ready' else topic})"
            )
        _print_my_page(run)
        typer.echo(f"next: mobile-jpki phone register --data-dir {data_dir} --phone {phone}")


Sign = Annotated[bool, typer.Option("--sign/--no-sign", help="⑤ 署名用電子証明書.")]
Auth = Annotated[bool, typer.Option("--auth/--no-auth", help="⑤ 利用者証明用電子証明書.")]
AcceptTerms = Annotated[
    bool,
    typer.Option("--accept-terms", help="⑥ 確認しました: accept the terms without showing them."),
]
Consent = Annotated[
    bool,
    typer.Option(
        "--consent",
        help="⑨ 同意して次へ: agree in advance that the other phone's certificates are revoked.",
    ),
]


@app.command("apply")
def apply(
    data_dir: DataDir,
    phone: PhoneReq,
    card: CardId = "card",
    sign: Sign = True,
    auth: Auth = True,
    accept_terms: AcceptTerms = False,
    consent: Consent = False,
    card_password: CardPassword = None,
    sign_password: SignPassword = None,
    auth_pin: AuthPin = None,
    base_url: BaseUrl = None,
) -> None:
    """スマホ用電子証明書を申請する — a first application (seed ④-⑪ without 機種変更): card
    password, certificates, terms, read the card, new phone passwords (twice), 申請の完了.

    If the service finds another phone of yours holding certificates it shows ⑨
    「旧スマホ用電子証明書は失効されます」 first (--consent agrees in advance).
    Then `phone register` (⑫⑬).
    """
    _apply(ApplicationKind.FIRST, data_dir, phone, card, sign, auth, accept_terms, consent,
           card_password, sign_password, auth_pin, base_url)  # fmt: skip


@app.command("model-change")
def model_change(
    data_dir: DataDir,
    phone: PhoneReq,
    card: CardId = "card",
    sign: Sign = True,
    auth: Auth = True,
    accept_terms: AcceptTerms = False,
    consent: Consent = False,
    card_password: CardPassword = None,
    sign_password: SignPassword = None,
    auth_pin: AuthPin = None,
    base_url: BaseUrl = None,
) -> None:
    """機種変更 — on the NEW phone (seed ③-⑪): ④ card signing password, ⑤ certificates,
    ⑥⑦ terms and 申請する, ⑧ read the card, ⑨ 「旧スマホ用電子証明書は失効されます」 —
    同意して次へ (--consent) or やめる (exit 0, nothing applied), ⑩ new passwords, ⑪ 申請の完了.

    The old phone's certificates are revoked when the service accepts; it deletes them when it
    next comes online within 48 hours (`phone sync`). Then `phone register` (⑫⑬).
    """
    _apply(ApplicationKind.MODEL_CHANGE, data_dir, phone, card, sign, auth, accept_terms,
           consent, card_password, sign_password, auth_pin, base_url)  # fmt: skip


def _print_my_page(run: AppRun) -> None:
    page = run.phone.my_page()
    typer.echo("マイページ")
    for entry in page.get("entries", []):
        h = HIERARCHY_OF.get(str(entry.get("kind")))
        name = NAMES[h] if h is not None else str(entry.get("kind"))
        typer.echo(f"  {name}  {entry.get('label')}")
    typer.echo(f"  プッシュ通知 {'オン' if page.get('push_enabled') else 'オフ'}")


@app.command("register")
def register(
    data_dir: DataDir,
    phone: PhoneReq,
    sign_password: SignPassword = None,
    auth_pin: AuthPin = None,
    base_url: BaseUrl = None,
) -> None:
    """⑫⑬ 登録する: write the certificates that are 「登録準備が完了しています」 into the secure
    element and prove each key to the service, with the passwords set at ⑩."""
    with launch(data_dir, phone, base_url) as run:
        run.pushes()
        ready = [HIERARCHY_OF[item["kind"]] for item in run.phone.api.registrations()]
        if not ready:
            _print_my_page(run)
            fail("nothing is ready to register (apply first, or wait for 登録準備完了)",
                 EXIT_REFUSED)  # fmt: skip
        given = {Hierarchy.SIGN: sign_password, Hierarchy.AUTH: auth_pin}
        values = dict(_FILLER)
        for h in ready:
            flag = "--sign-password" if h is Hierarchy.SIGN else "--auth-pin"
            value = secret(given[h], flag=flag, prompt=f"{NAMES[h]} password / PIN (⑩)")
            values[h] = normalise_sign_password(value) if h is Hierarchy.SIGN else (
                validate_auth_pin(value))  # fmt: skip
            # Checked before anything is written: a certificate written into the element
            # cannot be written again without the service's instruction (docs/apdu.md).
            run.phone.element.select_ap()
            run.phone.element.verify(h, values[h])
        done = run.phone.register(
            sign_password=values[Hierarchy.SIGN], auth_pin=values[Hierarchy.AUTH]
        )
        for kind in done:
            typer.echo(f"⑬ {NAMES[HIERARCHY_OF[kind]]}: 登録完了")
        typer.echo("登録が完了しました。スマホ用電子証明書をご利用ください。")


@app.command("sync")
def sync(data_dir: DataDir, phone: PhoneReq, base_url: BaseUrl = None) -> None:
    """The phone comes online (network, screen on): carry out the service's signed instructions
    — after a model change, delete the revoked certificates (within 48 hours of revocation)."""
    with launch(data_dir, phone, base_url) as run:
        carried = run.phone.sync_instructions()
        for topic in run.pushes():
            typer.echo(f"push: {topic}")
    if carried:
        typer.echo(
            f"{len(carried)} instruction(s) carried out: certificates deleted from {phone!r}"
        )
    else:
        typer.echo("no instruction to carry out")


@app.command("revoke")
def revoke(
    data_dir: DataDir,
    phone: PhoneReq,
    sign: Annotated[bool, typer.Option("--sign", help="Revoke the signing certificate.")] = False,
    auth: Annotated[bool, typer.Option("--auth", help="Revoke the user-auth certificate.")] = False,
    sign_password: SignPassword = None,
    auth_pin: AuthPin = None,
    base_url: BaseUrl = None,
) -> None:
    """マイページ → 失効, on this phone: revoke its certificates (every one it holds unless
    --sign/--auth), signed inside the element. The secret asked for is that of the certificate
    acted on: the signing password when the signing certificate is revoked, else the 4-digit
    user-auth PIN (暗証番号) — a phone holding only its user-auth certificate revokes it with
    the PIN. Do this before giving the phone away: a factory reset does not remove them."""
    chosen = [h for h, on in ((Hierarchy.SIGN, sign), (Hierarchy.AUTH, auth)) if on]
    with launch(data_dir, phone, base_url) as run:
        if not chosen:
            live = ("registered", "held", "registration-ready")
            chosen = [
                HIERARCHY_OF[e["kind"]]
                for e in run.phone.my_page()["entries"]
                if e.get("state") in live and e.get("kind") in HIERARCHY_OF
            ]
        if not chosen:
            fail("this phone holds no certificate to revoke", EXIT_REFUSED)
        if revocation_secret(frozenset(chosen)) is Hierarchy.SIGN:
            password = secret(sign_password, flag="--sign-password",
                              prompt="Phone signing password (パスワード)")  # fmt: skip
            serials = run.phone.revoke(sign_password=password, certificates=chosen)
        else:
            pin = validate_auth_pin(
                secret(auth_pin, flag="--auth-pin", prompt="Phone user-auth PIN (暗証番号)")
            )
            serials = run.phone.revoke(auth_pin=pin, certificates=chosen)
        run.svc.work()
    for serial in serials:
        typer.echo(f"{serial}  revoked (失効)")


@app.command("revoke-other")
def revoke_other(
    data_dir: DataDir,
    phone: PhoneReq,
    card: CardId = "card",
    card_password: CardPassword = None,
    base_url: BaseUrl = None,
) -> None:
    """マイページ → 別のスマホのスマホ用電子証明書 → 失効: revoke the certificates of your other
    phone (lost, sold), with the My Number Card's signature."""
    with launch(data_dir, phone, base_url) as run:
        password = secret(card_password, flag="--card-password", prompt="Card signing password")
        serials = run.phone.revoke_other(run.card(card), card_password=password)
        run.svc.work()
    if not serials:
        fail("no other phone holds certificates", EXIT_NOT_FOUND)
    for serial in serials:
        typer.echo(f"{serial}  revoked (失効)")


@app.command("reset-password")
def reset_password(
    data_dir: DataDir,
    phone: PhoneReq,
    which: Annotated[str, typer.Option("--which", help="sign or auth.")],
    card: CardId = "card",
    card_password: CardPassword = None,
    new_secret: Annotated[
        str | None,
        typer.Option("--new", help="The new password or PIN. Prompted (twice) when absent."),
    ] = None,
    base_url: BaseUrl = None,
) -> None:
    """初期化: reset a phone certificate's password (also a blocked one) — choose it, enter the
    card's signing password, read the card, set the new password. The service's instruction is
    bound to the element's challenge; the new secret never leaves the phone."""
    if which not in ("sign", "auth"):
        fail("--which is sign or auth", EXIT_USAGE)
    h = Hierarchy(which)
    with launch(data_dir, phone, base_url) as run:
        password = secret(card_password, flag="--card-password", prompt="Card signing password")
        if h is Hierarchy.SIGN:
            value = normalise_sign_password(
                secret(new_secret, flag="--new", prompt="New phone signing password", confirm=True)
            )
        else:
            value = validate_auth_pin(
                secret(new_secret, flag="--new", prompt="New phone user-auth PIN", confirm=True)
            )
        run.phone.reset_password(
            run.card(card), card_password=password, certificate=h, new_secret=value
        )
    typer.echo(f"{NAMES[h]}: the password was reset")


@app.command("release")
def release(
    data_dir: DataDir,
    phone: PhoneReq,
    card: CardId = "card",
    card_password: CardPassword = None,
    sign_password: Annotated[
        str | None,
        typer.Option(
            "--sign-password",
            help="The NEW phone signing password for the re-issued signing certificate "
            "(6-16 of A-Z/0-9). Prompted (twice, hidden) when the signing certificate is held.",
            envvar="MOBILE_JPKI_PHONE_PASSWORD",
        ),
    ] = None,
    base_url: BaseUrl = None,
) -> None:
    """Release a hotline suspension (一時利用停止の解除), with the card, in one flow: the
    user-auth certificate is un-held; the signing certificate is revoked and re-issued for a
    new key under the new signing password set here. Then `phone register` (⑬) with it."""
    with launch(data_dir, phone, base_url) as run:
        held = [
            HIERARCHY_OF[e["kind"]]
            for e in run.phone.my_page()["entries"]
            if e.get("state") == "held" and e.get("kind") in HIERARCHY_OF
        ]
        if not held:
            fail("no certificate of this phone is suspended (一時利用停止中ではありません)",
                 EXIT_REFUSED)  # fmt: skip
        password = secret(card_password, flag="--card-password", prompt="Card signing password")
        new_password = None
        if Hierarchy.SIGN in release_plan(frozenset(held)):
            new_password = _new_secret(Hierarchy.SIGN, sign_password)
        result = run.phone.release_hold(
            run.card(card), card_password=password, new_sign_password=new_password
        )
        run.svc.work()
        run.pushes()
        for kind, outcome in result.items():
            h = HIERARCHY_OF.get(kind)
            typer.echo(f"{NAMES[h] if h else kind}: {outcome}")
        _print_my_page(run)
        if new_password is not None:
            typer.echo(f"next: mobile-jpki phone register --data-dir {data_dir} --phone {phone}")


@app.command("push")
def push(
    state: Annotated[str, typer.Argument(help="on or off", show_default=False)],
    data_dir: DataDir,
    phone: PhoneReq,
    base_url: BaseUrl = None,
) -> None:
    """マイページ → マイナポータルからの通知 → プッシュ通知 オン/オフ."""
    if state not in ("on", "off"):
        fail("push takes on or off", EXIT_USAGE)
    with launch(data_dir, phone, base_url) as run:
        run.phone.api.set_push(state == "on")
    typer.echo(f"プッシュ通知 {'オン' if state == 'on' else 'オフ'}")


@app.command("status")
def status(data_dir: DataDir, phone: PhoneReq, base_url: BaseUrl = None) -> None:
    """マイページ and 有効性確認: each certificate's state on my page (e.g. 「登録準備が完了して
    います」) and what the service says of every certificate this phone was issued."""
    with launch(data_dir, phone, base_url) as run:
        for topic in run.pushes():
            typer.echo(f"push: {topic}")
        _print_my_page(run)
        certificates = run.phone.check_validity()
    typer.echo("有効性確認")
    if not certificates:
        typer.echo("  (no certificate issued to this phone)")
    for c in certificates:
        h = HIERARCHY_OF.get(str(c["kind"]))
        where = "registered" if c.get("registered") else "never registered"
        typer.echo(
            f"  {NAMES[h] if h else c['kind']}  serial {c['serial']}  {c['status']}  "
            f"until {c['not_after']}  ({where})"
        )


@app.command("sign-pdf")
def sign_pdf_cmd(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help="The PDF to sign.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write it signed.")],
    data_dir: DataDir,
    phone: PhoneReq,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="The phone signing password. Prompted (hidden) when absent.",
            envvar="MOBILE_JPKI_PHONE_PASSWORD",
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="PAdES level B-B, B-T or B-LT (default: B-T when the service serves /tsa, "
            "else B-B).",
        ),
    ] = None,
    base_url: BaseUrl = None,
) -> None:
    """Sign a PDF (PAdES) with the phone's signing key, inside its secure element: the
    registered 署名用電子証明書 after seed ⑬."""
    from mobile_jpki.reader.key import ApduRSAPrivateKey
    from mobile_jpki.signing.pdf import Level, PdfSigningError, sign_pdf
    from mobile_jpki.verify.certificate import TrustAnchors

    levels = {lv.value: lv for lv in Level}
    if level is not None and level not in levels:
        fail(f"--level is one of {', '.join(levels)}", EXIT_USAGE)
    if not in_path.is_file():
        fail(f"{in_path}: no such file", EXIT_NOT_FOUND)
    with launch(data_dir, phone, base_url) as run:
        value = normalise_sign_password(
            secret(password, flag="--password", prompt="Phone signing password")
        )
        tsa = _tsa_url(run.svc)
        chosen = levels[level] if level else (Level.B_T if tsa else Level.B_B)
        if chosen is not Level.B_B and tsa is None:
            fail(f"{chosen.value} needs a time-stamp service; this service has no /tsa",
                 EXIT_USAGE)  # fmt: skip
        element = run.phone.element
        element.select_ap()
        element.verify(Hierarchy.SIGN, value)
        cert = element.read_certificate(Hierarchy.SIGN)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            fail("the phone's signing certificate is not RSA", EXIT_SETUP)
        info = run.phone.api.info()
        import base64

        roots = tuple(x509.load_der_x509_certificate(base64.b64decode(d)) for d in info["sign_ca"])
        root = TrustAnchors(roots).issuer_of(cert)
        try:
            sign_pdf(
                in_path, out_path, ApduRSAPrivateKey(element, Hierarchy.SIGN, public), cert,
                [root] if root is not None else [], level=chosen, tsa_url=tsa,
                now=office.clock.now(),
            )  # fmt: skip
        except PdfSigningError as exc:
            fail(f"cannot sign {in_path}: {exc}", EXIT_REFUSED)
    typer.echo(f"{out_path}: signed ({chosen.value}) by serial {cert.serial_number:x}")


def _tsa_url(svc: Service) -> str | None:
    """``{base_url}/tsa`` only when the service serves it (POST-only: a GET answers 405)."""
    base = svc.base_url or (svc.system.settings.base_url if svc.system is not None else None)
    if base is None:
        return None
    if svc.system is not None:
        served = any(getattr(r, "path", None) == "/tsa" for r in svc.system.app.routes)
        return f"{base.rstrip('/')}/tsa" if served else None
    response = svc.http.get("/tsa")
    return None if response.status_code == 404 else f"{base.rstrip('/')}/tsa"


__all__ = ["app", "launch"]
