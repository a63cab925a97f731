"""What a screen shows: a renderer-neutral description built from the app's state.

A :class:`Screen` is plain data (text ids, inputs, checkboxes, buttons, a dialog, a push
banner, a message). The browser simulator turns it into HTML, tests read it directly; neither
needs to know the rules in :mod:`.flows`. Texts are referenced by id (:mod:`.texts`), so one
screen renders in Japanese or English.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mobile_jpki.phone.app.backend import (
    ApplicationDraft,
    AuthHolder,
    AuthRequest,
    MyPageView,
    ReleaseDraft,
    SelfCheck,
)
from mobile_jpki.phone.app.texts import text
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind


class ScreenId(StrEnum):
    HOME = "home"
    MY_PAGE = "my-page"  # ② ③ ⑫
    APPLY_FORM = "apply-form"  # ④-⑦ (one scrolling screen)
    CARD_READ = "card-read"  # ⑧, and ⑨'s dialog on top of it
    NEW_PASSWORD = "new-password"  # noqa: S105 - a screen id, not a secret; ⑩ ⑪, once per certificate applied for
    APPLY_DONE = "apply-done"  # ⑪
    REGISTER = "register"  # ⑫
    REGISTER_DONE = "register-done"  # ⑬
    BIOMETRICS = "biometrics"
    SELF_CHECK = "self-check"
    REVOKE_OWN = "revoke-own"
    REVOKE_OTHER = "revoke-other"
    RESET_CHOOSE = "reset-choose"
    RESET_CARD = "reset-card"
    RESET_NEW = "reset-new"
    RELEASE = "release"
    CARD_SETTINGS = "card-settings"
    DONE = "done"
    OLD_PHONE_NOTICE = "old-phone-notice"
    # the document's 「操作マニュアルはこちら」 in the app: ①-⑨, then 「続きはこちら」 ⑩-⑬
    MANUAL = "manual"
    HELP = "help"  # the document's お問合せ block (hotline, hours, IP-phone and multilingual lines)
    # デジタル認証アプリ (issue 18 §3): open a request, consent, PIN, password, done or refused
    AUTHAPP_OPEN = "authapp-open"
    AUTHAPP_CONSENT = "authapp-consent"
    AUTHAPP_PIN = "authapp-pin"
    AUTHAPP_PASSWORD = "authapp-password"  # noqa: S105 - a screen id, not a secret
    AUTHAPP_DONE = "authapp-done"
    AUTHAPP_REFUSED = "authapp-refused"


class CardPurpose(StrEnum):
    """Why the card-read screen is up: decides what tapping the card does."""

    APPLY = "apply"
    REVOKE_OTHER = "revoke-other"
    RESET = "reset"
    RELEASE = "release"
    AUTHAPP = (
        "authapp"  # マイナンバーカードで読み取る: the card answers a デジタル認証アプリ request
    )


class DialogId(StrEnum):
    REVOKE_OLD = "revoke-old"  # ⑨ 「旧スマホ用電子証明書は失効されます」
    REVOKE_OWN_CONFIRM = "revoke-own-confirm"  # 失効する asks once more: it cannot be undone
    REVOKE_OTHER_CONFIRM = "revoke-other-confirm"


class MessageCode(StrEnum):
    """Stable codes of the messages a screen can carry (tests and the simulator rely on them)."""

    PASSWORD_FORMAT = "password-format"  # noqa: S105 - a message code
    PIN_FORMAT = "pin-format"
    PASSWORD_MISMATCH = "password-mismatch"  # noqa: S105 - a message code
    PIN_MISMATCH = "pin-mismatch"
    CHOOSE_ONE_CERT = "choose-one-cert"
    WRONG_CARD_SECRET = "wrong-card-secret"  # noqa: S105 - a message code
    CARD_LOCKED = "card-locked"
    WRONG_CARD_PIN = "wrong-card-pin"
    CARD_PIN_LOCKED = "card-pin-locked"
    WRONG_PHONE_SECRET = "wrong-phone-secret"  # noqa: S105 - a message code
    PHONE_LOCKED = "phone-locked"
    WRONG_PHONE_PIN = "wrong-phone-pin"
    PHONE_PIN_LOCKED = "phone-pin-locked"
    NO_OTHER_DEVICE = "no-other-device"
    NOT_ELIGIBLE = "not-eligible"
    CARD_CERTIFICATE_INVALID = "card-certificate-invalid"
    CARD_CERTIFICATE_HELD = "card-certificate-held"
    NOTHING_READY = "nothing-ready"
    NOTHING_TO_REVOKE = "nothing-to-revoke"
    NOT_SUSPENDED = "not-suspended"
    SESSION_EXPIRED = "session-expired"
    RATE_LIMITED = "rate-limited"
    DEVICE_NOT_RECOGNISED = "device-not-recognised"
    NOT_ALLOWED = "not-allowed"
    STATE_CHANGED = "state-changed"
    TERMS_OUTDATED = "terms-outdated"
    DEVICE_UNSUPPORTED = "device-unsupported"
    REGISTER_FAILED = "register-failed"
    SECRETS_NEEDED = "secrets-needed"
    CHIP_ERROR = "chip-error"
    IN_PROGRESS = "in-progress"
    INVALID_REQUEST = "invalid-request"
    UNAVAILABLE = "unavailable"
    AUTHAPP_OTHER_SERVICE = "authapp-other-service"
    OTHER = "other"


MESSAGE_TEXT: Mapping[MessageCode, str] = {
    MessageCode.PASSWORD_FORMAT: "err_password_format",
    MessageCode.PIN_FORMAT: "err_pin_format",
    MessageCode.PASSWORD_MISMATCH: "err_password_mismatch",
    MessageCode.PIN_MISMATCH: "err_pin_mismatch",
    MessageCode.CHOOSE_ONE_CERT: "err_choose_one_cert",
    MessageCode.WRONG_CARD_SECRET: "err_wrong_card_secret",
    MessageCode.CARD_LOCKED: "err_card_locked",
    MessageCode.WRONG_CARD_PIN: "err_wrong_card_pin",
    MessageCode.CARD_PIN_LOCKED: "err_card_pin_locked",
    MessageCode.WRONG_PHONE_SECRET: "err_wrong_phone_secret",
    MessageCode.PHONE_LOCKED: "err_phone_locked",
    MessageCode.WRONG_PHONE_PIN: "err_wrong_phone_pin",
    MessageCode.PHONE_PIN_LOCKED: "err_phone_pin_locked",
    MessageCode.NO_OTHER_DEVICE: "err_no_other_device",
    MessageCode.NOT_ELIGIBLE: "err_not_eligible",
    MessageCode.CARD_CERTIFICATE_INVALID: "err_card_certificate_invalid",
    MessageCode.CARD_CERTIFICATE_HELD: "err_card_certificate_held",
    MessageCode.NOTHING_READY: "err_nothing_ready",
    MessageCode.NOTHING_TO_REVOKE: "err_nothing_to_revoke",
    MessageCode.NOT_SUSPENDED: "err_not_suspended",
    MessageCode.SESSION_EXPIRED: "err_session_expired",
    MessageCode.RATE_LIMITED: "err_rate_limited",
    MessageCode.DEVICE_NOT_RECOGNISED: "err_device_not_recognised",
    MessageCode.NOT_ALLOWED: "err_not_allowed",
    MessageCode.STATE_CHANGED: "err_state_changed",
    MessageCode.TERMS_OUTDATED: "err_terms_outdated",
    MessageCode.DEVICE_UNSUPPORTED: "err_device_unsupported",
    MessageCode.REGISTER_FAILED: "err_register_failed",
    MessageCode.SECRETS_NEEDED: "err_secrets_needed",
    MessageCode.CHIP_ERROR: "err_chip_error",
    MessageCode.IN_PROGRESS: "err_in_progress",
    MessageCode.INVALID_REQUEST: "err_invalid_request",
    MessageCode.UNAVAILABLE: "err_unavailable",
    MessageCode.AUTHAPP_OTHER_SERVICE: "err_authapp_other_service",
    MessageCode.OTHER: "err_other",
}


@dataclass(frozen=True)
class Message:
    code: MessageCode
    params: tuple[tuple[str, str], ...] = ()

    @property
    def text_id(self) -> str:
        return MESSAGE_TEXT[self.code]

    def render(self, lang: Lang) -> str:
        return text(self.text_id, lang, **dict(self.params))


# --- screen elements ----------------------------------------------------------------------


class ItemKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    BULLET = "bullet"
    HINT = "hint"
    STATUS = "status"  # a certificate and its status on my page
    LABEL = "label"
    STEP = "step"  # the manual: a numbered step of the document (①-⑬)
    NOTE = "note"  # the manual: the document's narration under a step
    CAPTION = "caption"  # the manual: the caption of a screen picture (「画面例 …」)
    TEL = "tel"  # a telephone number, dialled when tapped; the item's detail is its label


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    text_id: str
    params: tuple[tuple[str, str], ...] = ()
    detail_id: str = ""  # STATUS: the status text; the item's text is the certificate
    name: str = ""

    def render(self, lang: Lang) -> str:
        return text(self.text_id, lang, **dict(self.params))

    def render_detail(self, lang: Lang) -> str:
        return text(self.detail_id, lang, **dict(self.params)) if self.detail_id else ""


@dataclass(frozen=True)
class Field:
    name: str
    label_id: str
    value: str = ""
    secret: bool = True
    hint_id: str = ""
    numeric: bool = False
    url: bool = False  # a URL pasted as it is (never upper-cased, longer than a password)


@dataclass(frozen=True)
class Checkbox:
    name: str
    label_id: str
    checked: bool


class ButtonStyle(StrEnum):
    """How a button weighs on the screen, as the Mynaportal app draws it."""

    PRIMARY = "primary"  # the screen's one prominent action (filled)
    SECONDARY = "secondary"  # 戻る, やめる, キャンセル (outlined)
    DESTRUCTIVE = "destructive"  # 失効する: cannot be undone, asks for confirmation
    ROW = "row"  # the document's 「>」: a menu row that leads on
    LINK = "link"  # the document's 「…はこちら」
    TILE = "tile"  # a tile of the home screen


@dataclass(frozen=True)
class Button:
    name: str
    label_id: str
    enabled: bool = True
    style: ButtonStyle = ButtonStyle.PRIMARY


Element = Item | Field | Checkbox | Button


@dataclass(frozen=True)
class Dialog:
    id: DialogId
    title_id: str
    body_id: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class Banner:
    title_id: str
    body_id: str


@dataclass(frozen=True)
class Screen:
    id: ScreenId
    title_id: str
    body: tuple[Element, ...] = ()
    dialog: Dialog | None = None
    banner: Banner | None = None
    message: Message | None = None
    guide: tuple[str, ...] = ()  # the document's numbered steps for this screen (simulator only)
    awaits_card: bool = False
    back: Button | None = None  # the app bar's back arrow: the screen's 戻る action, if any

    def primary(self) -> Button | None:
        """The screen's prominent action (the dialog's, while one is up)."""
        buttons = self.dialog.buttons if self.dialog is not None else self.body
        return next(
            (b for b in buttons if isinstance(b, Button) and b.style is ButtonStyle.PRIMARY),
            None,
        )

    def button(self, name: str) -> Button | None:
        for b in self.buttons():
            if b.name == name:
                return b
        return None

    def buttons(self) -> Iterator[Button]:
        yield from (e for e in self.body if isinstance(e, Button))
        if self.dialog is not None:
            yield from self.dialog.buttons
        if self.back is not None:
            yield self.back

    def checkbox(self, name: str) -> Checkbox | None:
        return next((e for e in self.body if isinstance(e, Checkbox) and e.name == name), None)

    def field(self, name: str) -> Field | None:
        return next((e for e in self.body if isinstance(e, Field) and e.name == name), None)

    def field_names(self) -> list[str]:
        return [e.name for e in self.body if isinstance(e, Field)]

    def texts(self, lang: Lang = Lang.JA) -> list[str]:
        """Every text the phone shows on this screen, in order (guide excluded)."""
        out = [text(self.title_id, lang)]
        for e in self.body:
            if isinstance(e, Item):
                out.append(e.render(lang))
                if e.detail_id:
                    out.append(e.render_detail(lang))
            elif isinstance(e, Field):
                out.append(text(e.label_id, lang))
                if e.hint_id:
                    out.append(text(e.hint_id, lang))
            elif isinstance(e, Checkbox | Button):
                out.append(text(e.label_id, lang))
        if self.dialog is not None:
            out += [text(self.dialog.title_id, lang), text(self.dialog.body_id, lang)]
            out += [text(b.label_id, lang) for b in self.dialog.buttons]
        if self.banner is not None:
            out += [text(self.banner.title_id, lang), text(self.banner.body_id, lang)]
        if self.message is not None:
            out.append(self.message.render(lang))
        return out


# --- the app's state ----------------------------------------------------------------------


@dataclass(frozen=True)
class AppState:
    """Everything the app remembers between events. Replaced, never mutated."""

    screen: ScreenId = ScreenId.HOME
    fields: Mapping[str, str] = field(default_factory=dict)
    checked: frozenset[str] = frozenset()
    message: Message | None = None
    banner: bool = False
    my_page: MyPageView | None = None
    kind: ApplicationKind | None = None
    card_purpose: CardPurpose | None = None
    draft: ApplicationDraft | None = None
    dialog: DialogId | None = None
    consent: bool = False
    password_step: Hierarchy | None = None
    new_sign_password: str | None = field(default=None, repr=False)
    new_auth_pin: str | None = field(default=None, repr=False)
    reset_cert: Hierarchy | None = None
    ticket_id: str | None = None
    self_check: SelfCheck | None = None
    release_draft: ReleaseDraft | None = None
    register_ask: bool = False  # ⑬ after a restart: the ⑩ secrets are asked for again
    done_text: str = ""
    notice_text: str = ""
    manual_page: int = 1  # MANUAL: 1 is ①-⑨, 2 is 「続きはこちら」 ⑩-⑬
    return_to: ScreenId = ScreenId.HOME  # where MANUAL and HELP go back to
    # The instructions the old phone's notice tells of without carrying them out (kept after
    # 48 hours): remembered as seen on OK, so the notice is shown once (docs/lifecycle.md).
    notice_ids: tuple[str, ...] = ()
    # デジタル認証アプリ: the request opened, whose keys answer it, the PIN typed on its screen
    # (kept until the password, or the card, is given), and what the last screen says.
    auth_request: AuthRequest | None = None
    auth_holder: AuthHolder = AuthHolder.PHONE
    auth_pin: str | None = field(default=None, repr=False)
    auth_sign_password: str | None = field(default=None, repr=False)
    auth_outcome: str = ""


# ⑩: the signing certificate's password comes first; every list of the two follows this order.
CERT_ORDER: tuple[Hierarchy, ...] = (Hierarchy.SIGN, Hierarchy.AUTH)
CERT_TEXT: Mapping[Hierarchy, str] = {Hierarchy.SIGN: "cert_sign", Hierarchy.AUTH: "cert_auth"}
CERT_CHECKBOX: Mapping[Hierarchy, str] = {Hierarchy.SIGN: "cert_sign", Hierarchy.AUTH: "cert_auth"}
