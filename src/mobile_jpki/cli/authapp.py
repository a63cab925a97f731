"""What ``phone authorize`` and ``card authorize`` share: the app's side of the デジタル認証アプリ
twin (:mod:`mobile_jpki.phone.authapp`) on the command line — show what the relying party
asks, take the secrets, sign in the element or on the card, post, and print the redirect URL
as the last line (docs/cli.md "Authorizing for a relying party").

Exit codes as every command (:mod:`mobile_jpki.cli.card`): 2 for a URL that is malformed or
names another service, 4 for a refusal by the service (one line ``refused: …``) and for a
wrong or blocked secret, 1 for a transport failure or an answer the app does not understand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.cli.card import (
    EXIT_FAILURE,
    EXIT_REFUSED,
    EXIT_SETUP,
    EXIT_USAGE,
    cli_errors,
    fail,
)
from mobile_jpki.cli.office import secret
from mobile_jpki.phone.authapp import (
    ApprovalView,
    AuthAppRefused,
    MalformedAnswer,
    NotThisService,
    approve,
    deny,
    open_authorization,
    requested_items,
)
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import open_card
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin


@contextmanager
def authapp_errors() -> Iterator[None]:
    """The app library's errors on the shared exit codes, one line each."""
    try:
        yield
    except NotThisService as exc:
        fail(str(exc), EXIT_USAGE)
    except AuthAppRefused as exc:
        typer.echo(f"refused: {exc.description or exc.error}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except MalformedAnswer as exc:
        fail(str(exc), EXIT_FAILURE)


def show(view: ApprovalView, *, holder: str) -> None:
    """The consent screen, in the app's words; the redirect URL comes after it, last."""
    typer.echo(f"{view.client_name} が次の情報を求めています ({view.client_id})")
    typer.echo("  利用者証明 (ログイン)")
    for item in requested_items(view):
        typer.echo(f"  {item}")
    tx = view.sign_transaction
    if tx is not None:
        typer.echo(f"  署名対象 SHA-256: {tx.digest.hex()} ({tx.digest_type})")
    typer.echo(f"  使う電子証明書: {holder}")


def _key(element: JpkiClient, which: Hierarchy) -> tuple[ApduRSAPrivateKey, x509.Certificate]:
    cert = element.read_certificate(which)
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        fail(f"the {which.value} certificate is not RSA", EXIT_SETUP)
    return ApduRSAPrivateKey(element, which, public), cert


def answer(
    http: httpx.Client,
    element: JpkiClient,
    url: str,
    *,
    holder: str,
    pin: str | None,
    sign_password: str | None,
    decline: bool,
) -> None:
    """Open ``url``, show it, and approve (signatures in ``element``) or decline; the
    redirect URL is printed last. Element errors (wrong PIN…) are left to ``cli_errors``."""
    with authapp_errors():
        view = open_authorization(http, url)
        show(view, holder=holder)
        if decline:
            typer.echo(deny(http, view))
            return
        # Both secrets checked for form before the first VERIFY: a typo costs no try.
        auth_pin = validate_auth_pin(
            secret(pin, flag="--pin", prompt="利用者証明用電子証明書の暗証番号 (4 digits)")
        )
        password = None
        if view.needs_sign_key:
            password = normalise_sign_password(
                secret(sign_password, flag="--sign-password",
                       prompt="署名用電子証明書のパスワード (6-16, A-Z and 0-9)")
            )  # fmt: skip
        element.select_ap()
        element.verify(Hierarchy.AUTH, auth_pin)
        auth_key, auth_cert = _key(element, Hierarchy.AUTH)
        sign_key = sign_cert = None
        if password is not None:
            element.verify(Hierarchy.SIGN, password)
            sign_key, sign_cert = _key(element, Hierarchy.SIGN)
        redirect = approve(
            http, view, auth_key=auth_key, auth_cert=auth_cert,
            sign_key=sign_key, sign_cert=sign_cert,
        )  # fmt: skip
    typer.echo(redirect)


def card_authorize(
    url: str,
    *,
    data_dir: Path,
    card: str,
    pin: str | None,
    sign_password: str | None,
    decline: bool,
    base_url: str | None,
) -> None:
    """``mobile-jpki card authorize`` (its options: :func:`mobile_jpki.cli.card.authorize`):
    the emulated card of ``data_dir``, the service in-process or at ``base_url``."""
    from mobile_jpki.cli.office import connect

    with cli_errors(), connect(data_dir, base_url) as svc:
        # The card runs on the service's clock (a sandbox's may have been moved).
        applet = open_card(data_dir, card, clock=svc.clock)
        answer(
            svc.http, JpkiClient(InProcessConnection(applet)), url,
            holder=f"マイナンバーカード ({card})", pin=pin, sign_password=sign_password,
            decline=decline,
        )  # fmt: skip
