"""Living with the certificates on a phone: come online (``sync``), revoke (``revoke``,
``revoke-other``), reset a password, release a hotline hold, push on/off and my page
(``status``).

The commands are registered on the ``phone`` app in :mod:`mobile_jpki.cli.phone`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mobile_jpki.cli.card import EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE, DataDir, fail
from mobile_jpki.cli.office import BaseUrl, secret
from mobile_jpki.cli.phone.session import (
    NAMES,
    AppRun,
    AuthPin,
    CardId,
    CardPassword,
    PhoneReq,
    SignPassword,
    launch,
    new_secret,
    print_my_page,
)
from mobile_jpki.lifecycle import release_plan, revocation_secret
from mobile_jpki.phone.app.old_phone import old_phone_notice
from mobile_jpki.phone.app.texts import text
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.phone.steps import HIERARCHY_OF
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.instructions import InstructionReason
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin


def _kinds_in(run: AppRun, *states: str) -> list[Hierarchy]:
    """The certificates of this phone whose my-page state is one of ``states``."""
    return [
        HIERARCHY_OF[e["kind"]]
        for e in run.phone.my_page()["entries"]
        if e.get("state") in states and e.get("kind") in HIERARCHY_OF
    ]


def sync(data_dir: DataDir, phone: PhoneReq, base_url: BaseUrl = None) -> None:
    """The phone comes online (network, screen on): carry out the service's signed instructions
    — after a model change, delete the revoked certificates (within 48 hours of revocation)."""
    with launch(data_dir, phone, base_url) as run:
        # Why each was queued: the notice names its real cause, as the app's does.
        reasons = {i["id"]: str(i.get("reason") or "") for i in run.phone.api.instructions()}
        carried = run.phone.sync_instructions()
        # Missed while offline past the 48 hours: told once (the profile remembers).
        lapsed = run.phone.lapsed_notices()
        for topic in run.pushes():
            typer.echo(f"push: {topic}")
    if carried:
        typer.echo(
            f"{len(carried)} instruction(s) carried out: certificates deleted from {phone!r}"
        )
        # A release's re-issue is carried out without a notice: the person asked for it.
        told = [
            r for i in carried if (r := reasons.get(i, "")) != InstructionReason.REISSUE_SIGNING
        ]
        if told:  # one notice, as the app shows one
            typer.echo(text(old_phone_notice(told[-1], kept=False), Lang.JA))
    elif not lapsed:
        typer.echo("no instruction to carry out")
    for item in lapsed[:1]:  # one notice, as the app shows one
        typer.echo(text(old_phone_notice(str(item.get("reason") or ""), kept=True), Lang.JA))


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
            chosen = _kinds_in(run, "registered", "held", "registration-ready")
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
    typer.echo(f"{NAMES[h]}: the {'password' if h is Hierarchy.SIGN else 'PIN'} was reset")


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
        held = _kinds_in(run, "held")
        if not held:
            fail("no certificate of this phone is suspended (一時利用停止中ではありません)",
                 EXIT_REFUSED)  # fmt: skip
        password = secret(card_password, flag="--card-password", prompt="Card signing password")
        new_password = None
        if Hierarchy.SIGN in release_plan(frozenset(held)):
            new_password = new_secret(Hierarchy.SIGN, sign_password)
        result = run.phone.release_hold(
            run.card(card), card_password=password, new_sign_password=new_password
        )
        run.svc.work()
        run.pushes()
        for kind, outcome in result.items():
            h = HIERARCHY_OF.get(kind)
            typer.echo(f"{NAMES[h] if h else kind}: {outcome}")
        print_my_page(run)
        if new_password is not None:
            typer.echo(f"next: mobile-jpki phone register --data-dir {data_dir} --phone {phone}")


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


def status(data_dir: DataDir, phone: PhoneReq, base_url: BaseUrl = None) -> None:
    """マイページ and 有効性確認: each certificate's state on my page (e.g. 「登録準備が完了して
    います」) and what the service says of every certificate this phone was issued."""
    with launch(data_dir, phone, base_url) as run:
        for topic in run.pushes():
            typer.echo(f"push: {topic}")
        print_my_page(run)
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
