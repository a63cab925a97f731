"""The デジタル認証アプリ's screens as rules (issue 18 §3): a relying party's request is opened
(a URL pasted on the phone, or a link the OS hands over), the person sees who asks for what,
consents or not, types the user-authentication PIN (4 digits) and, only when facts or a
signature are asked, the signing password; the phone's secure element — or the My Number Card
held against it (マイナンバーカードで読み取る) — signs, and the browser moves on by itself.

Rules:

- Both secrets are checked for form before the first VERIFY: a typo costs no try.
- A wrong secret brings the person back to the screen of that secret with the tries left;
  nothing is sent to the service then (the signatures are made only after both VERIFYs).
- A refusal by the service (``access_denied`` after a failed check, an expired, finished or
  unknown request) is a screen of its own: the request cannot go on in the app.
- 同意しない answers the service too (the relying party gets ``error=access_denied``).

The transitions are :class:`~mobile_jpki.phone.app.flows.PhoneApp`'s (:data:`BUTTONS` joins
its table); what they show is :func:`render_authapp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from mobile_jpki.phone.app.backend import (
    AUTHAPP_OTHER_SERVICE,
    AuthHolder,
    BackendError,
    IncorrectSecret,
    Rejected,
    SecretKind,
    SecretLocked,
)
from mobile_jpki.phone.app.messages import message_for
from mobile_jpki.phone.app.screens import (
    AppState,
    Button,
    ButtonStyle,
    CardPurpose,
    Element,
    Field,
    Item,
    ItemKind,
    Message,
    MessageCode,
    ScreenId,
)
from mobile_jpki.reader.errors import InvalidSecret
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin

if TYPE_CHECKING:
    from mobile_jpki.phone.app.flows import PhoneApp

URL_FIELD = "authapp_url"
URL_MAX = 2048  # an authorization URL with its parameters; the simulator keeps no more

# The service's refusals (backend codes) and the screen text each one shows.
REFUSED_TEXT = {
    "authapp-access-denied": "authapp_refused_access_denied",
    "authapp-expired": "authapp_refused_expired",
    "authapp-finished": "authapp_refused_finished",
    "authapp-not-found": "authapp_refused_not_found",
    "authapp-invalid-request": "authapp_refused_invalid",
    "authapp-malformed": "authapp_refused_invalid",
}
_SIGN_SECRETS = (SecretKind.PHONE_SIGN, SecretKind.CARD_SIGN)


# What leaving the デジタル認証アプリ's request forgets (its secrets above all).
_FORGET: dict[str, object] = {"auth_request": None, "auth_pin": None, "auth_sign_password": None}

SCREENS = frozenset(
    {
        ScreenId.AUTHAPP_OPEN,
        ScreenId.AUTHAPP_CONSENT,
        ScreenId.AUTHAPP_PIN,
        ScreenId.AUTHAPP_PASSWORD,
        ScreenId.AUTHAPP_DONE,
        ScreenId.AUTHAPP_REFUSED,
    }
)


def start(a: PhoneApp, s: AppState) -> AppState:
    return a._go(s, ScreenId.AUTHAPP_OPEN, **_FORGET, auth_holder=AuthHolder.PHONE)


def open_link(a: PhoneApp, s: AppState, url: str) -> AppState:
    """The OS hands the app a link: the request screen with it, opened at once."""
    return open_request(a, replace(start(a, s), fields={URL_FIELD: url[:URL_MAX]}))


def _refused(a: PhoneApp, s: AppState, err: BackendError) -> AppState | None:
    text_id = REFUSED_TEXT.get(err.code)
    if text_id is None:
        return None
    return a._go(s, ScreenId.AUTHAPP_REFUSED, **_FORGET, auth_outcome=text_id)


def open_request(a: PhoneApp, s: AppState) -> AppState:
    url = s.fields.get(URL_FIELD, "").strip()
    try:
        request = a.backend.open_auth_request(url)
    except Rejected as err:
        if err.code == AUTHAPP_OTHER_SERVICE:
            return replace(s, message=Message(MessageCode.AUTHAPP_OTHER_SERVICE))
        return _refused(a, s, err) or replace(s, message=message_for(err))
    except BackendError as err:
        return replace(s, message=message_for(err))
    fresh = {**_FORGET, "auth_request": request, "auth_holder": AuthHolder.PHONE}
    return a._go(s, ScreenId.AUTHAPP_CONSENT, **fresh)


def deny(a: PhoneApp, s: AppState) -> AppState:
    assert s.auth_request is not None  # noqa: S101 - set by open_request
    try:
        a.backend.deny_auth_request(s.auth_request)
    except BackendError as err:
        return _refused(a, s, err) or replace(s, message=message_for(err))
    return a._go(s, ScreenId.AUTHAPP_DONE, **_FORGET, auth_outcome="authapp_denied_body")


def pin_next(a: PhoneApp, s: AppState) -> AppState:
    request = s.auth_request
    assert request is not None  # noqa: S101
    try:
        pin = validate_auth_pin(s.fields.get("auth_pin", ""))
    except InvalidSecret:
        return replace(s, message=Message(MessageCode.PIN_FORMAT), fields={})
    s = replace(s, auth_pin=pin)
    if request.needs_sign_key:
        return a._go(s, ScreenId.AUTHAPP_PASSWORD)
    return _to_keys(a, s)


def password_next(a: PhoneApp, s: AppState) -> AppState:
    try:
        password = normalise_sign_password(s.fields.get("sign_password", ""))
    except InvalidSecret:
        return replace(s, message=Message(MessageCode.PASSWORD_FORMAT), fields={})
    return _to_keys(a, replace(s, auth_sign_password=password))


def _to_keys(a: PhoneApp, s: AppState) -> AppState:
    """Both secrets are in: the card is asked for, or the phone's element signs now."""
    if s.auth_holder is AuthHolder.CARD:
        return a._go(s, ScreenId.CARD_READ, card_purpose=CardPurpose.AUTHAPP)
    return approve(a, s)


def approve(a: PhoneApp, s: AppState) -> AppState:
    assert s.auth_request is not None and s.auth_pin is not None  # noqa: S101
    try:
        a.backend.approve_auth_request(
            s.auth_request, holder=s.auth_holder, auth_pin=s.auth_pin,
            sign_password=s.auth_sign_password,
        )  # fmt: skip
    except (IncorrectSecret, SecretLocked) as err:
        # Back to the screen of the secret that was wrong; nothing was sent to the service.
        screen = ScreenId.AUTHAPP_PASSWORD if err.which in _SIGN_SECRETS else ScreenId.AUTHAPP_PIN
        back = a._go(s, screen, auth_pin=None, auth_sign_password=None)
        if screen is ScreenId.AUTHAPP_PASSWORD:
            back = replace(back, auth_pin=s.auth_pin)
        return replace(back, message=message_for(err))
    except BackendError as err:
        refused = _refused(a, s, err)
        if refused is not None:
            return refused
        back = a._go(s, ScreenId.AUTHAPP_PIN, auth_pin=None, auth_sign_password=None)
        return replace(back, message=message_for(err))
    return a._go(s, ScreenId.AUTHAPP_DONE, **_FORGET, auth_outcome="authapp_done_body")


def card_cancel(a: PhoneApp, s: AppState) -> AppState:
    if s.card_purpose is CardPurpose.AUTHAPP:
        return a._go(s, ScreenId.AUTHAPP_PIN, auth_pin=None, auth_sign_password=None)
    return a._to_my_page(s)


def _holder(holder: AuthHolder) -> Callable[[PhoneApp, AppState], AppState]:
    return lambda a, s: a._go(s, ScreenId.AUTHAPP_PIN, auth_holder=holder)


BUTTONS: dict[tuple[ScreenId | None, str], Callable[[PhoneApp, AppState], AppState]] = {
    (ScreenId.HOME, "authapp"): start,
    (ScreenId.AUTHAPP_OPEN, "authapp_open"): open_request,
    (ScreenId.AUTHAPP_OPEN, "back"): lambda a, s: a._go(s, ScreenId.HOME),
    (ScreenId.AUTHAPP_CONSENT, "authapp_agree"): lambda a, s: a._go(
        s, ScreenId.AUTHAPP_PIN, auth_holder=AuthHolder.PHONE
    ),
    (ScreenId.AUTHAPP_CONSENT, "authapp_deny"): deny,
    (ScreenId.AUTHAPP_PIN, "next"): pin_next,
    (ScreenId.AUTHAPP_PIN, "authapp_use_card"): _holder(AuthHolder.CARD),
    (ScreenId.AUTHAPP_PIN, "authapp_use_phone"): _holder(AuthHolder.PHONE),
    (ScreenId.AUTHAPP_PIN, "back"): lambda a, s: a._go(s, ScreenId.AUTHAPP_CONSENT),
    (ScreenId.AUTHAPP_PASSWORD, "next"): password_next,
    (ScreenId.AUTHAPP_PASSWORD, "back"): lambda a, s: a._go(s, ScreenId.AUTHAPP_PIN, auth_pin=None),
    (ScreenId.CARD_READ, "cancel"): card_cancel,
    (ScreenId.AUTHAPP_CONSENT, "authapp_close"): lambda a, s: a._go(s, ScreenId.HOME),
    (ScreenId.AUTHAPP_DONE, "authapp_close"): lambda a, s: a._go(s, ScreenId.HOME, **_FORGET),
    (ScreenId.AUTHAPP_REFUSED, "authapp_close"): lambda a, s: a._go(s, ScreenId.HOME, **_FORGET),
}


# --- what the screens show ----------------------------------------------------------------------
_SCOPES = ("openid", "name", "address", "birthdate", "gender", "sign")


def _p(text_id: str, **params: str) -> Item:
    return Item(ItemKind.PARAGRAPH, text_id, tuple(params.items()))


def _secret(s: AppState, name: str, label: str, hint: str, numeric: bool = False) -> Field:
    return Field(name, label, s.fields.get(name, ""), True, hint, numeric)


def render_authapp(s: AppState) -> tuple[str, list[Element], Button | None]:
    """The title, body and back action of an ``AUTHAPP_*`` screen."""
    back: Button | None = Button("back", "back", style=ButtonStyle.SECONDARY)
    request = s.auth_request
    sid = s.screen
    card = s.auth_holder is AuthHolder.CARD
    body: list[Element] = []
    title = "authapp_title"
    if sid is ScreenId.AUTHAPP_OPEN:
        body = [
            _p("authapp_open_body"),
            Field(URL_FIELD, "authapp_url_label", s.fields.get(URL_FIELD, ""), False, url=True),
            Button("authapp_open", "authapp_open"),
        ]
    elif sid is ScreenId.AUTHAPP_CONSENT and request is not None:
        back = None  # the person answers: 同意する or 同意しない
        body = [Item(ItemKind.LABEL, "authapp_consent_body", (("client", request.client_name),))]
        body += [
            Item(ItemKind.BULLET, f"authapp_scope_{x}") for x in _SCOPES if x in request.scopes
        ]
        body += [
            Item(ItemKind.BULLET, "authapp_scope_other", (("scope", x),))
            for x in request.scopes
            if x not in _SCOPES
        ]
        if request.digest_hex:
            body.append(Item(ItemKind.HINT, "authapp_digest", (("digest", request.digest_hex),)))
        body += [
            _p("authapp_consent_note"),
            Button("authapp_agree", "authapp_agree"),
            Button("authapp_deny", "authapp_deny", style=ButtonStyle.SECONDARY),
        ]
    elif sid is ScreenId.AUTHAPP_PIN:
        title = "authapp_pin_title"
        label = "authapp_card_pin_label" if card else "phone_auth_pin_label"
        body = [
            _p("authapp_pin_body_card" if card else "authapp_pin_body_phone"),
            _secret(s, "auth_pin", label, "auth_pin_hint", numeric=True),
            Button("next", "next"),
            Button(
                "authapp_use_phone" if card else "authapp_use_card",
                "authapp_use_phone" if card else "authapp_use_card",
                style=ButtonStyle.LINK,
            ),
        ]
    elif sid is ScreenId.AUTHAPP_PASSWORD:
        title = "authapp_password_title"
        label = "card_sign_password_label" if card else "phone_sign_password_label"
        body = [
            _p("authapp_password_body"),
            _secret(s, "sign_password", label, "sign_password_hint"),
            Button("next", "next"),
        ]
    elif sid in (ScreenId.AUTHAPP_DONE, ScreenId.AUTHAPP_REFUSED):
        back = None
        done = sid is ScreenId.AUTHAPP_DONE
        title = "authapp_done_title" if done else "authapp_refused_title"
        body = [_p(s.auth_outcome or "ok"), Button("authapp_close", "authapp_close")]
    else:  # CONSENT without a request: never reached, but never a blank screen either
        body = [_p("err_invalid_request"), Button("authapp_close", "authapp_close")]
        back = None
    return title, body, back
