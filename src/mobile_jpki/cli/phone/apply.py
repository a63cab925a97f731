"""Getting certificates onto a phone: enrol a new phone (``new``), apply (``apply``,
``model-change``, seed ③-⑪) and register what is ready (``register``, ⑫⑬).

The commands are registered on the ``phone`` app in :mod:`mobile_jpki.cli.phone`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from mobile_jpki.cli import office
from mobile_jpki.cli.card import (
    EXIT_FAILURE,
    EXIT_REFUSED,
    EXIT_SETUP,
    EXIT_USAGE,
    DataDir,
    cli_errors,
    fail,
)
from mobile_jpki.cli.office import BaseUrl, connect, secret
from mobile_jpki.cli.phone.session import (
    NAMES,
    AuthPin,
    CardId,
    CardPassword,
    PhoneReq,
    SignPassword,
    launch,
    new_secret,
    print_my_page,
    scripted_phone,
)
from mobile_jpki.phone.app import backend as be
from mobile_jpki.phone.app.portal_backend import PortalBackend
from mobile_jpki.phone.app.texts import text
from mobile_jpki.phone.profile import AppProfile, ProfileStore
from mobile_jpki.phone.steps import HIERARCHY_OF
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import DeviceKind, create_phone, device_path, open_phone
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin


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
            scripted = scripted_phone(svc, JpkiClient(InProcessConnection(applet)), None)
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
        chosen = {h: new_secret(h, given[h]) for h in sorted(certs)}
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
        print_my_page(run)
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
            print_my_page(run)
            fail("nothing is ready to register (apply first, or wait for 登録準備完了)",
                 EXIT_REFUSED)  # fmt: skip
        given = {Hierarchy.SIGN: sign_password, Hierarchy.AUTH: auth_pin}
        values = dict(_FILLER)
        for h in ready:
            flag = "--sign-password" if h is Hierarchy.SIGN else "--auth-pin"
            # One vocabulary: the signing certificate has a password (パスワード), the other
            # a 4-digit PIN (暗証番号); the prompt is Japanese as the app's screen is.
            kind = "パスワード" if h is Hierarchy.SIGN else "暗証番号"
            value = secret(given[h], flag=flag, prompt=f"{NAMES[h]}の{kind} (⑩)")
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
