"""One launch of the Mynaportal app (:func:`launch`, :class:`AppRun`), the options the flow
commands share, and the renderings more than one of them prints (my page, a new secret at ⑩).

Errors of the app backend leave on the exit codes of ``mobile-jpki card``
(:mod:`mobile_jpki.cli.card`, docs/cli.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.cli import office
from mobile_jpki.cli.card import (
    EXIT_FAILURE,
    EXIT_REFUSED,
    EXIT_USAGE,
    cli_errors,
    fail,
)
from mobile_jpki.cli.office import Service, connect, secret
from mobile_jpki.clock import Clock
from mobile_jpki.phone.app import backend as be
from mobile_jpki.phone.profile import AppProfile, ProfileStore
from mobile_jpki.phone.steps import HIERARCHY_OF, InstructionRefused, ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import open_card, open_phone
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin

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
            InProcessConnection(open_card(self.data_dir, card_id, clock=self.svc.clock))
        )

    def pushes(self) -> list[str]:
        """New push topics delivered to this phone (handled ids are remembered)."""
        return self.phone.handle_push(self.svc.inbox(self.profile.device_id))

    def save(self) -> None:
        updated = self.profile.updated(
            seen_push=self.phone.seen_push, seen_notices=self.phone.seen_notices
        )
        if updated != self.profile:
            self.store.save(updated)
            self.profile = updated


def scripted_phone(svc: Service, element: JpkiClient, credential: str | None) -> ScriptedPhone:
    clock = svc.clock

    def sign_document(content: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
        from mobile_jpki.signing.cms import sign_cms

        return sign_cms(content, key, cert, signing_time=clock.now(), detached=False)

    return ScriptedPhone(
        api=svc.portal(credential), element=element, sign_document=sign_document, clock=clock
    )


@contextmanager
def launch(
    data_dir: Path, phone_id: str, base_url: str | None, *, secret: Hierarchy | None = None
) -> Iterator[AppRun]:
    """Open the phone's element and profile, connect, and save the profile on the way out
    (also after a refusal: secrets set on the element before it must be remembered).
    ``secret``: the one the command checks, named in a wrong-secret error (cli_errors)."""
    with cli_errors(secret):
        # The element runs on the service's clock (it checks an instruction's not-after
        # itself), known once connected: a sandbox's may have been moved.
        clock = _LateClock(office.clock)
        element = JpkiClient(InProcessConnection(open_phone(data_dir, phone_id, clock=clock)))
        store = ProfileStore(data_dir, phone_id)
        profile = store.load()
        with connect(data_dir, base_url) as svc:
            clock.target = svc.clock
            phone = scripted_phone(svc, element, profile.credential)
            phone.device_id = profile.device_id
            phone.seen_push = set(profile.seen_push)
            phone.seen_notices = set(profile.seen_notices)
            run = AppRun(svc, phone, store, profile, data_dir)
            try:
                with _backend_errors():
                    yield run
            finally:
                run.save()


class _LateClock:
    """A clock whose source is set later (the element is opened before the connection)."""

    def __init__(self, target: Clock) -> None:
        self.target = target

    def now(self) -> dt.datetime:
        return self.target.now()


@contextmanager
def _backend_errors() -> Iterator[None]:
    """The app backend's errors (:mod:`mobile_jpki.phone.app.backend`) on the same exit codes."""
    try:
        yield
    except be.IncorrectSecret as exc:
        fail(f"wrong {_secret_name(exc.which)} ({exc.tries_left} tries left)", EXIT_REFUSED)
    except be.SecretLocked as exc:
        hint = (
            "reset it with `mobile-jpki phone reset-password`"
            if exc.which in (be.SecretKind.PHONE_SIGN, be.SecretKind.PHONE_AUTH)
            else "unblock it at the municipal office"
        )
        fail(f"the {_secret_name(exc.which)} is blocked: {hint}", EXIT_REFUSED)
    except InstructionRefused as exc:
        fail(f"{exc}; reported to the service", EXIT_REFUSED)
    except be.Unavailable as exc:
        fail(f"unavailable: {exc.detail}", EXIT_FAILURE)
    except be.Rejected as exc:
        if exc.code in ("password-format", "pin-format"):
            fail(exc.detail, EXIT_USAGE)
        fail(f"refused ({exc.code}){': ' + exc.detail if exc.detail else ''}", EXIT_REFUSED)


def _secret_name(which: be.SecretKind) -> str:
    return {
        be.SecretKind.CARD_SIGN: "card signing password",
        be.SecretKind.CARD_AUTH: "card user-auth PIN",
        be.SecretKind.PHONE_SIGN: "phone signing password",
        be.SecretKind.PHONE_AUTH: "phone user-auth PIN",
    }[which]


def print_my_page(run: AppRun) -> None:
    page = run.phone.my_page()
    typer.echo("マイページ")
    for entry in page.get("entries", []):
        h = HIERARCHY_OF.get(str(entry.get("kind")))
        name = NAMES[h] if h is not None else str(entry.get("kind"))
        typer.echo(f"  {name}  {entry.get('label')}")
    typer.echo(f"  プッシュ通知 {'オン' if page.get('push_enabled') else 'オフ'}")


def new_secret(h: Hierarchy, value: str | None) -> str:
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
