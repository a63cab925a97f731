"""``phone authorize``: the デジタル認証アプリ on this phone, opened on a relying party's
authorization URL (issue 18 §3): the user-auth key (暗証番号) logs in, the signing key
(パスワード) gives the facts or signs the sign transaction, both inside the secure element.

Registered on the ``phone`` app in :mod:`mobile_jpki.cli.phone`; the shared steps are in
:mod:`mobile_jpki.cli.authapp`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mobile_jpki.cli.card import AuthUrl, DataDir, Deny
from mobile_jpki.cli.office import BaseUrl
from mobile_jpki.cli.phone.session import PhoneReq, SignPassword, launch

Pin = Annotated[
    str | None,
    typer.Option(
        "--pin",
        help="The phone's user-authentication PIN (暗証番号, 4 digits). Prompted (hidden) "
        "when absent.",
        envvar="MOBILE_JPKI_PHONE_PIN",
    ),
]


def authorize(
    url: AuthUrl,
    data_dir: DataDir,
    phone: PhoneReq,
    pin: Pin = None,
    sign_password: SignPassword = None,
    deny: Deny = False,
    base_url: BaseUrl = None,
) -> None:
    """Do what the デジタル認証アプリ does when a relying party's authorization URL is opened:
    show who asks for what (氏名, 住所, 生年月日, 性別, 電子署名), sign the service's challenge
    with the user-auth key (4-digit PIN) and, when facts or a signature are asked, with the
    signing key (signing password), and print the redirect URL (code and state) last.

    A refusal by the service prints `refused: <reason>` and exits 4; a URL of another
    service exits 2. --deny declines: the redirect carries error=access_denied.
    """
    from mobile_jpki.cli.authapp import answer  # the signing stack, only when run

    with launch(data_dir, phone, base_url) as run:
        answer(
            run.svc.http, run.phone.element, url, holder=f"スマホ用電子証明書 ({phone})",
            pin=pin, sign_password=sign_password, decline=deny,
        )  # fmt: skip
