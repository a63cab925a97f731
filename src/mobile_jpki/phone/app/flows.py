"""The app as a state machine: events in, a new :class:`AppState` out, a :class:`Screen` to show.

Rules from the user's document (steps ①-⑬) and JPKI-FACTS "Flows":

- ④ the card signing password is checked for format (6-16, A-Z/0-9 mixing letters and digits;
  lowercase is upper-cased) BEFORE the card is read, so a typo never costs one of the card's
  5 tries.
- ⑤ either certificate may be unticked, never both.
- ⑥⑦ 「申請する」 is enabled only once 「確認しました」 is ticked.
- ⑧⑨ reading the card asks the service, read-only, whether another device holds certificates;
  only then does the dialog 「旧スマホ用電子証明書は失効されます」 appear. 「やめる」 goes back
  to my page with nothing changed anywhere: the backend is asked to apply only after consent and
  the new passwords (⑩⑪).
- ⑩ new passwords: signing 6-16 (as above), user-authentication 4 digits, each typed twice.
- ⑫ the push 「登録準備完了」 shows a banner; my page shows 「登録準備が完了しています」 per
  certificate; ⑬ 「登録する」 writes them into the secure element.

Backend errors never escape :meth:`PhoneApp.dispatch`: they become a :class:`Message` (stable
code + text) on the screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from mobile_jpki.clock import Clock
from mobile_jpki.lifecycle import revocation_secret
from mobile_jpki.phone.app.backend import (
    CONSENT_REQUIRED,
    TERMS_VERSION,
    AppBackend,
    ApplicationKind,
    BackendError,
    CardTicket,
    CertStatus,
    InstructionKind,
    NewSecrets,
    PushKind,
    Rejected,
    ReleaseDraft,
    SecretKind,
    SecretLocked,
    Unavailable,
    Validity,
    WrongSecret,
)
from mobile_jpki.phone.app.screens import (
    CERT_CHECKBOX,
    CERT_TEXT,
    AppState,
    Banner,
    Button,
    CardPurpose,
    Checkbox,
    Dialog,
    DialogId,
    Element,
    Field,
    Item,
    ItemKind,
    Message,
    MessageCode,
    Screen,
    ScreenId,
)
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.errors import InvalidSecret
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin

log = logging.getLogger(__name__)

_ORDER = (Hierarchy.SIGN, Hierarchy.AUTH)  # ⑩: the signing certificate's password comes first


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeText:
    field: str
    value: str


@dataclass(frozen=True)
class Toggle:
    checkbox: str


@dataclass(frozen=True)
class Press:
    button: str


@dataclass(frozen=True)
class TapCard:
    """The person holds the My Number Card against the phone (NFC)."""


@dataclass(frozen=True)
class PushReceived:
    kind: PushKind


@dataclass(frozen=True)
class TapBanner:
    pass


@dataclass(frozen=True)
class ComeOnline:
    """The phone is on a network with its screen on: it fetches its instructions."""


Event = TypeText | Toggle | Press | TapCard | PushReceived | TapBanner | ComeOnline


_WRONG = {
    SecretKind.CARD_SIGN: MessageCode.WRONG_CARD_SECRET,
    SecretKind.CARD_AUTH: MessageCode.WRONG_CARD_PIN,
    SecretKind.PHONE_SIGN: MessageCode.WRONG_PHONE_SECRET,
    SecretKind.PHONE_AUTH: MessageCode.WRONG_PHONE_PIN,
}
_LOCKED = {
    SecretKind.CARD_SIGN: MessageCode.CARD_LOCKED,
    SecretKind.CARD_AUTH: MessageCode.CARD_PIN_LOCKED,
    SecretKind.PHONE_SIGN: MessageCode.PHONE_LOCKED,
    SecretKind.PHONE_AUTH: MessageCode.PHONE_PIN_LOCKED,
}
# Every code a backend raises (the portal's problem codes, the adapters' own) and the message a
# person sees for it. A code not listed shows the general message, never the code itself: the
# code stays in the message's params for logs and tests (docs/lifecycle.md, "Errors").
ERROR_MESSAGES: Mapping[str, MessageCode] = {
    "password-format": MessageCode.PASSWORD_FORMAT,
    "pin-format": MessageCode.PIN_FORMAT,
    "no-certificate-chosen": MessageCode.CHOOSE_ONE_CERT,
    "no-other-device": MessageCode.NO_OTHER_DEVICE,
    "not-eligible": MessageCode.NOT_ELIGIBLE,
    "card-certificate-invalid": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-unknown": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-revoked": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-expired": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-held": MessageCode.CARD_CERTIFICATE_HELD,
    "nothing-ready": MessageCode.NOTHING_READY,
    "nothing-to-revoke": MessageCode.NOTHING_TO_REVOKE,
    "no-such-certificate": MessageCode.NOTHING_TO_REVOKE,
    "no-auth-certificate": MessageCode.NOTHING_READY,
    "not-suspended": MessageCode.NOT_SUSPENDED,
    "nonce-unknown": MessageCode.SESSION_EXPIRED,
    "nonce-expired": MessageCode.SESSION_EXPIRED,
    "nonce-used": MessageCode.SESSION_EXPIRED,
    "stale-signature": MessageCode.SESSION_EXPIRED,
    "unknown-draft": MessageCode.SESSION_EXPIRED,
    "unknown-ticket": MessageCode.SESSION_EXPIRED,
    "unknown-instruction": MessageCode.SESSION_EXPIRED,
    "instruction-expired": MessageCode.SESSION_EXPIRED,
    "rate-limited": MessageCode.RATE_LIMITED,
    "unauthenticated": MessageCode.DEVICE_NOT_RECOGNISED,
    "forbidden": MessageCode.NOT_ALLOWED,
    "device-mismatch": MessageCode.NOT_ALLOWED,
    "signature-invalid": MessageCode.NOT_ALLOWED,
    "not-found": MessageCode.STATE_CHANGED,
    "conflict": MessageCode.STATE_CHANGED,
    # Another phone's application of the person is accepted and not yet issued (409).
    "application-in-progress": MessageCode.APPLICATION_IN_PROGRESS,
    "terms-outdated": MessageCode.TERMS_OUTDATED,
    "attestation-invalid": MessageCode.DEVICE_UNSUPPORTED,
    "certificate-not-rsa": MessageCode.DEVICE_UNSUPPORTED,
    "installation-proof-invalid": MessageCode.REGISTER_FAILED,
    "certificate-key-replaced": MessageCode.REGISTER_FAILED,
    "secrets-missing": MessageCode.SECRETS_NEEDED,
    "secrets-unknown": MessageCode.SECRETS_NEEDED,
    "unavailable": MessageCode.UNAVAILABLE,
}


def message_for(error: BackendError) -> Message:
    """The screen message for a backend error (one place, so codes stay stable). No code
    string reaches a screen: an unknown code gets the general message."""
    if isinstance(error, WrongSecret):
        return Message(_WRONG[error.which], (("tries_left", str(error.tries_left)),))
    if isinstance(error, SecretLocked):
        return Message(_LOCKED[error.which])
    if isinstance(error, Unavailable):
        return Message(MessageCode.UNAVAILABLE)
    known = ERROR_MESSAGES.get(error.code)
    if known is not None:
        return Message(known)
    if error.code.startswith("sw-"):  # a status word the app did not expect (ISO 7816-4)
        return Message(MessageCode.CHIP_ERROR, (("code", error.code),))
    return Message(MessageCode.OTHER, (("code", error.code),))


class PhoneApp:
    """One phone's Mynaportal app. Drive it with :meth:`dispatch`; read :meth:`screen`."""

    def __init__(self, backend: AppBackend, clock: Clock) -> None:
        self.backend = backend
        self.clock = clock
        self.state = AppState()

    # --- public -------------------------------------------------------------------------------
    def dispatch(self, event: Event) -> Screen:
        try:
            self.state = self._transition(self.state, event)
        except BackendError as err:  # a backend call the transition did not expect to fail
            self.state = replace(self.state, message=message_for(err))
        except Exception:  # never let a bug in an adapter kill the app: show a coded message
            log.exception("unexpected error handling %r", event)
            self.state = replace(
                self.state, message=Message(MessageCode.OTHER, (("code", "internal-error"),))
            )
        return self.screen()

    def poll(self) -> Screen:
        """Deliver pending push notifications (what the OS would do) and keep my page current
        while it is shown (a hotline suspension or 異動 changes it without a push)."""
        try:
            notices = list(self.backend.receive_pushes())
        except BackendError:
            return self.screen()  # offline: pushes wait at the service
        except Exception:  # as in dispatch: a bug in an adapter never kills the app
            log.exception("unexpected error receiving pushes")
            return self.screen()
        for notice in notices:
            self.dispatch(PushReceived(notice.kind))
        if self.state.screen is ScreenId.MY_PAGE and not notices:
            # Through dispatch's guard: a refresh that fails shows a coded message.
            self.state = self._guarded(self._refresh, self.state)
        return self.screen()

    def _guarded(self, step: Callable[[AppState], AppState], s: AppState) -> AppState:
        try:
            return step(s)
        except BackendError as err:
            return replace(s, message=message_for(err))
        except Exception:
            log.exception("unexpected error refreshing my page")
            return replace(s, message=Message(MessageCode.OTHER, (("code", "internal-error"),)))

    def screen(self) -> Screen:
        return _render(self.state)

    # --- transitions --------------------------------------------------------------------------
    def _transition(self, s: AppState, event: Event) -> AppState:
        if isinstance(event, PushReceived):
            if event.kind is PushKind.READY:
                s = replace(s, banner=True)
                if s.screen is ScreenId.MY_PAGE:
                    s = self._refresh(s)
            return s
        if isinstance(event, TapBanner):
            return self._to_my_page(s) if s.banner else s
        if isinstance(event, ComeOnline):
            return self._come_online(s)
        screen = _render(s)
        if isinstance(event, TypeText):
            if event.field not in screen.field_names():
                return s
            # Every input of the app is a password or PIN: lowercase is upper-cased as typed
            # (JPKI-FACTS "Passwords and PINs"); digits are unaffected.
            value = event.value.upper() if event.value.isascii() else event.value
            return replace(s, fields={**s.fields, event.field: value})
        if isinstance(event, Toggle):
            if screen.checkbox(event.checkbox) is None:
                return s
            return self._toggle(s, event.checkbox)
        if isinstance(event, TapCard):
            if not screen.awaits_card or s.dialog is not None:
                return s
            return self._card_tapped(s)
        button = screen.button(event.button)
        if button is None or not button.enabled:
            return s  # a disabled or absent button does nothing
        if screen.dialog is not None and button not in screen.dialog.buttons:
            return s  # a dialog is modal
        handler = self._buttons.get((s.screen, event.button)) or self._buttons.get(
            (None, event.button)
        )
        return handler(self, replace(s, message=None)) if handler else s

    def _refresh(self, s: AppState) -> AppState:
        try:
            return replace(s, my_page=self.backend.my_page())
        except BackendError as err:
            return replace(s, message=message_for(err))

    def _to_my_page(self, s: AppState, message: Message | None = None) -> AppState:
        fresh = AppState(screen=ScreenId.MY_PAGE, my_page=s.my_page, message=message)
        return self._refresh(fresh)

    def _go(self, s: AppState, screen: ScreenId, **changes: Any) -> AppState:
        """Move to ``screen`` with a clean form (inputs never leak from one screen to the next)."""
        base: dict[str, Any] = {"fields": {}, "checked": frozenset(), "message": None}
        return replace(s, screen=screen, **{**base, **changes})

    def _toggle(self, s: AppState, name: str) -> AppState:
        checked = set(s.checked)
        if name in checked:
            checked.discard(name)
        else:
            checked.add(name)
        certs = {CERT_CHECKBOX[h] for h in _ORDER}
        if (
            s.screen in (ScreenId.APPLY_FORM, ScreenId.REVOKE_OWN)
            and name in certs
            and not (checked & certs)
        ):
            # ⑤ either certificate may be unticked, never both
            return replace(s, message=Message(MessageCode.CHOOSE_ONE_CERT))
        return replace(s, checked=frozenset(checked), message=None)

    def _chosen(self, s: AppState) -> frozenset[Hierarchy]:
        return frozenset(h for h in _ORDER if CERT_CHECKBOX[h] in s.checked)

    # APPLY_FORM (④-⑦) ---------------------------------------------------------------------
    def _start_apply(self, s: AppState, kind: ApplicationKind) -> AppState:
        return self._go(
            s,
            ScreenId.APPLY_FORM,
            kind=kind,
            checked=frozenset({"cert_sign", "cert_auth"}),
            draft=None,
            dialog=None,
            consent=False,
        )

    def _apply_pressed(self, s: AppState) -> AppState:
        try:
            password = normalise_sign_password(s.fields.get("card_sign_password", ""))
        except InvalidSecret:
            return replace(s, message=Message(MessageCode.PASSWORD_FORMAT))
        return replace(
            s,
            screen=ScreenId.CARD_READ,
            card_purpose=CardPurpose.APPLY,
            fields={**s.fields, "card_sign_password": password},
        )

    # CARD_READ (⑧) ------------------------------------------------------------------------
    def _card_tapped(self, s: AppState) -> AppState:
        purpose = s.card_purpose
        secret = s.fields.get("card_sign_password") or s.fields.get("card_secret", "")
        try:
            if purpose is CardPurpose.APPLY:
                assert s.kind is not None  # noqa: S101 - set when entering the form
                draft = self.backend.start_application(
                    s.kind, self._chosen(s), TERMS_VERSION, secret
                )
                s = replace(s, draft=draft)
                if draft.other_device_holds:
                    return replace(s, dialog=DialogId.REVOKE_OLD)  # ⑨
                return self._first_password_step(s)
            if purpose is CardPurpose.REVOKE_OTHER:
                self.backend.revoke_other_phone(secret)
                return self._go(s, ScreenId.DONE, done_text="revoke_other_done")
            if purpose is CardPurpose.RESET:
                assert s.reset_cert is not None  # noqa: S101
                ticket = self.backend.read_card_for_reset(s.reset_cert, secret)
                return self._go(s, ScreenId.RESET_NEW, ticket_id=ticket.ticket_id)
            if purpose is CardPurpose.RELEASE:
                release = self.backend.start_release(secret)
                if Hierarchy.SIGN in release.new_password_for:
                    # The signing certificate is re-issued: its new password, as at ⑩.
                    return self._go(
                        s,
                        ScreenId.NEW_PASSWORD,
                        password_step=Hierarchy.SIGN,
                        release_draft=release,
                    )
                return self._finish_release(s, release, None)
        except BackendError as err:
            # Back to where the secret was typed, secret cleared, ticks kept.
            back = (
                {
                    CardPurpose.APPLY: ScreenId.APPLY_FORM,
                    CardPurpose.REVOKE_OTHER: ScreenId.REVOKE_OTHER,
                    CardPurpose.RESET: ScreenId.RESET_CARD,
                    CardPurpose.RELEASE: ScreenId.RELEASE,
                }[purpose]
                if purpose
                else ScreenId.MY_PAGE
            )
            fields = {
                k: v for k, v in s.fields.items() if k not in ("card_sign_password", "card_secret")
            }
            return replace(s, screen=back, fields=fields, message=message_for(err))
        return s

    def _first_password_step(self, s: AppState) -> AppState:
        assert s.draft is not None  # noqa: S101
        first = next(h for h in _ORDER if h in s.draft.certs)
        return self._go(
            s, ScreenId.NEW_PASSWORD, password_step=first, dialog=None, checked=s.checked
        )

    def _agree(self, s: AppState) -> AppState:
        return self._first_password_step(replace(s, consent=True))

    def _quit(self, s: AppState) -> AppState:
        # やめる: drop the draft; the backend was never asked to apply.
        return self._to_my_page(s)

    # NEW_PASSWORD (⑩⑪) -------------------------------------------------------------------
    def _new_password_next(self, s: AppState) -> AppState:
        if s.release_draft is not None:
            new_password = self._check_new_secret(s, Hierarchy.SIGN)
            if isinstance(new_password, Message):
                return replace(s, message=new_password)
            return self._finish_release(s, s.release_draft, new_password)
        assert s.draft is not None and s.password_step is not None  # noqa: S101
        step = s.password_step
        checked_value = self._check_new_secret(s, step)
        if isinstance(checked_value, Message):
            return replace(s, message=checked_value)
        sign = checked_value if step is Hierarchy.SIGN else s.new_sign_password
        remaining = [
            h for h in _ORDER if h in s.draft.certs and _ORDER.index(h) > _ORDER.index(step)
        ]
        if remaining:
            return self._go(
                s, ScreenId.NEW_PASSWORD, password_step=remaining[0], new_sign_password=sign
            )
        auth = checked_value if step is Hierarchy.AUTH else None
        return self._confirm(replace(s, new_sign_password=sign, new_auth_pin=auth))

    def _confirm(self, s: AppState) -> AppState:
        assert s.draft is not None  # noqa: S101
        try:
            self.backend.confirm_application(
                s.draft,
                consent_to_revoke=s.consent,
                secrets=NewSecrets(sign_password=s.new_sign_password, auth_pin=s.new_auth_pin),
            )
        except Rejected as err:
            if err.code == CONSENT_REQUIRED and not s.consent:
                # Another device came to hold certificates after the card was read (or the
                # backend could not tell before): ask now, still before anything is applied.
                return replace(s, dialog=DialogId.REVOKE_OLD)
            return replace(s, message=message_for(err))
        except BackendError as err:
            return replace(s, message=message_for(err))
        return self._go(
            s,
            ScreenId.APPLY_DONE,
            draft=None,
            new_sign_password=None,
            new_auth_pin=None,
            password_step=None,
            dialog=None,
        )

    def _finish_release(
        self, s: AppState, release: ReleaseDraft, new_sign_password: str | None
    ) -> AppState:
        try:
            self.backend.confirm_release(release, new_sign_password)
        except BackendError as err:
            back = replace(s, screen=ScreenId.RELEASE, fields={}, release_draft=None)
            return replace(back, message=message_for(err))
        reissued = Hierarchy.SIGN in release.new_password_for
        return self._go(
            s,
            ScreenId.DONE,
            done_text="release_done_reissue" if reissued else "release_done",
            release_draft=None,
            password_step=None,
        )

    def _check_new_secret(self, s: AppState, cert: Hierarchy) -> str | Message:
        first = s.fields.get("new_password", "")
        again = s.fields.get("new_password_again", "")
        try:
            value = (
                normalise_sign_password(first)
                if cert is Hierarchy.SIGN
                else validate_auth_pin(first)
            )
        except InvalidSecret:
            code = MessageCode.PASSWORD_FORMAT if cert is Hierarchy.SIGN else MessageCode.PIN_FORMAT
            return Message(code)
        if again.upper() != value:
            return Message(MessageCode.PASSWORD_MISMATCH)
        return value

    # MY_PAGE and the rest -----------------------------------------------------------------
    def _register(self, s: AppState) -> AppState:
        secrets: NewSecrets | None = None
        if s.register_ask:  # the app was restarted since ⑩: the person types them again
            try:
                sign = s.fields.get("sign_password")
                auth = s.fields.get("auth_pin")
                secrets = NewSecrets(
                    sign_password=normalise_sign_password(sign) if sign else None,
                    auth_pin=validate_auth_pin(auth) if auth else None,
                )
            except InvalidSecret:
                return replace(s, message=Message(MessageCode.PASSWORD_FORMAT), fields={})
        try:
            self.backend.register(secrets)
        except BackendError as err:
            ask = s.register_ask or err.code == "secrets-unknown"
            return replace(s, message=message_for(err), fields={}, register_ask=ask)
        return self._refresh(
            self._go(s, ScreenId.REGISTER_DONE, banner=False, register_ask=False)
        )

    def _push_toggle(self, s: AppState) -> AppState:
        enabled = s.my_page.push_enabled if s.my_page else True
        try:
            self.backend.set_push(not enabled)
        except BackendError as err:
            return replace(s, message=message_for(err))
        return self._refresh(s)

    def _biometrics(self, s: AppState) -> AppState:
        try:
            self.backend.enrol_biometrics(s.fields.get("auth_pin", ""))
        except BackendError as err:
            return replace(s, message=message_for(err), fields={})
        return self._go(s, ScreenId.DONE, done_text="biometrics_done")

    def _self_check(self, s: AppState) -> AppState:
        try:
            result = self.backend.self_check(
                s.fields.get("sign_password") or None, s.fields.get("auth_pin") or None
            )
        except BackendError as err:
            return replace(s, message=message_for(err), fields={}, self_check=None)
        return replace(s, self_check=result, fields={})

    def _revoke_own(self, s: AppState) -> AppState:
        chosen = self._chosen(s)
        sign = revocation_secret(chosen) is Hierarchy.SIGN
        value = s.fields.get("secret", "")
        try:  # checked for format first: a typo never costs one of the element's tries
            value = normalise_sign_password(value) if sign else validate_auth_pin(value)
        except InvalidSecret:
            code = MessageCode.PASSWORD_FORMAT if sign else MessageCode.PIN_FORMAT
            return replace(s, message=Message(code), fields={})
        try:
            self.backend.revoke(chosen, value)
        except BackendError as err:
            return replace(s, message=message_for(err), fields={})
        return self._go(s, ScreenId.DONE, done_text="revoke_own_done")

    def _secret_then_card(self, s: AppState, name: str, sign: bool) -> AppState:
        value = s.fields.get(name, "")
        try:
            value = normalise_sign_password(value) if sign else validate_auth_pin(value)
        except InvalidSecret:
            code = MessageCode.PASSWORD_FORMAT if sign else MessageCode.PIN_FORMAT
            return replace(s, message=Message(code))
        purpose = {
            ScreenId.REVOKE_OTHER: CardPurpose.REVOKE_OTHER,
            ScreenId.RESET_CARD: CardPurpose.RESET,
            ScreenId.RELEASE: CardPurpose.RELEASE,
        }[s.screen]
        return replace(
            s, screen=ScreenId.CARD_READ, card_purpose=purpose, fields={**s.fields, name: value}
        )

    def _reset_new(self, s: AppState) -> AppState:
        assert s.reset_cert is not None and s.ticket_id is not None  # noqa: S101
        checked_value = self._check_new_secret(s, s.reset_cert)
        if isinstance(checked_value, Message):
            return replace(s, message=checked_value)
        try:
            self.backend.reset_password(CardTicket(s.ticket_id, s.reset_cert), checked_value)
        except BackendError as err:
            return replace(s, message=message_for(err))
        return self._go(s, ScreenId.DONE, done_text="reset_done", ticket_id=None)

    def _come_online(self, s: AppState) -> AppState:
        try:
            instructions = list(self.backend.fetch_instructions())
        except BackendError as err:
            return replace(s, message=message_for(err))
        notice = ""
        for instruction in instructions:
            # The notice names the real cause: a model change on another phone, or 失効 from
            # another phone. A release's re-issue is carried out without one: the person asked
            # for it on this phone (docs/lifecycle.md).
            other = "_other" if instruction.reason == "revoked-from-my-page" else ""
            silent = instruction.kind is InstructionKind.REISSUE
            # JPKI-FACTS: deleted if the old phone comes online within 48 h of the revocation;
            # after that the certificates stay on it, revoked.
            if self.clock.now() <= instruction.delete_until:
                try:
                    self.backend.delete_certificates(instruction)
                    notice = notice if silent else f"old_phone_deleted{other}"
                except Rejected as err:
                    if err.code != "instruction-expired":
                        return replace(s, message=message_for(err))
                    notice = notice or ("" if silent else f"old_phone_kept{other}")
                except BackendError as err:
                    return replace(s, message=message_for(err))
            elif not silent:
                notice = notice or f"old_phone_kept{other}"
        if not notice:
            return s
        return self._go(s, ScreenId.OLD_PHONE_NOTICE, notice_text=notice)

    _buttons: ClassVar[
        dict[tuple[ScreenId | None, str], Callable[[PhoneApp, AppState], AppState]]
    ] = {
        (ScreenId.HOME, "my_page"): lambda a, s: a._to_my_page(s),
        (ScreenId.MY_PAGE, "menu_apply"): lambda a, s: a._start_apply(s, ApplicationKind.FIRST),
        (ScreenId.MY_PAGE, "model_change"): lambda a, s: a._start_apply(
            s, ApplicationKind.MODEL_CHANGE
        ),
        (ScreenId.MY_PAGE, "revoke_other"): lambda a, s: a._go(s, ScreenId.REVOKE_OTHER),
        (ScreenId.MY_PAGE, "card_settings"): lambda a, s: a._go(s, ScreenId.CARD_SETTINGS),
        (ScreenId.MY_PAGE, "push"): lambda a, s: a._push_toggle(s),
        (ScreenId.MY_PAGE, "register"): lambda a, s: a._go(
            s, ScreenId.REGISTER, register_ask=False
        ),
        (ScreenId.MY_PAGE, "revoke_own"): lambda a, s: a._go(
            s,
            ScreenId.REVOKE_OWN,
            checked=frozenset(CERT_CHECKBOX[h] for h in _held(s))
            or frozenset({"cert_sign", "cert_auth"}),
        ),
        (ScreenId.MY_PAGE, "self_check"): lambda a, s: a._go(
            s, ScreenId.SELF_CHECK, self_check=None
        ),
        (ScreenId.MY_PAGE, "password_reset"): lambda a, s: a._go(s, ScreenId.RESET_CHOOSE),
        (ScreenId.MY_PAGE, "release"): lambda a, s: a._go(s, ScreenId.RELEASE),
        (ScreenId.APPLY_FORM, "apply"): lambda a, s: a._apply_pressed(s),
        (ScreenId.CARD_READ, "agree_next"): lambda a, s: a._agree(s),
        (ScreenId.CARD_READ, "quit"): lambda a, s: a._quit(s),
        (ScreenId.NEW_PASSWORD, "next"): lambda a, s: a._new_password_next(s),
        (ScreenId.NEW_PASSWORD, "agree_next"): lambda a, s: a._confirm(replace(s, consent=True)),
        (ScreenId.NEW_PASSWORD, "quit"): lambda a, s: a._quit(s),
        (ScreenId.REGISTER, "register"): lambda a, s: a._register(s),
        (ScreenId.REGISTER_DONE, "enrol_biometrics"): lambda a, s: a._go(s, ScreenId.BIOMETRICS),
        (ScreenId.REGISTER_DONE, "self_check"): lambda a, s: a._go(
            s, ScreenId.SELF_CHECK, self_check=None
        ),
        (ScreenId.BIOMETRICS, "register"): lambda a, s: a._biometrics(s),
        (ScreenId.SELF_CHECK, "self_check"): lambda a, s: a._self_check(s),
        (ScreenId.REVOKE_OWN, "revoke_do"): lambda a, s: a._revoke_own(s),
        (ScreenId.REVOKE_OTHER, "next"): lambda a, s: a._secret_then_card(
            s, "card_sign_password", sign=True
        ),
        (ScreenId.RESET_CHOOSE, "reset_sign"): lambda a, s: a._go(
            s, ScreenId.RESET_CARD, reset_cert=Hierarchy.SIGN
        ),
        (ScreenId.RESET_CHOOSE, "reset_auth"): lambda a, s: a._go(
            s, ScreenId.RESET_CARD, reset_cert=Hierarchy.AUTH
        ),
        # 初期化 of either certificate is a request signed with the card's signing key
        # (docs/portal.md), so both ask for the card signing password.
        (ScreenId.RESET_CARD, "next"): lambda a, s: a._secret_then_card(
            s, "card_secret", sign=True
        ),
        (ScreenId.RESET_NEW, "next"): lambda a, s: a._reset_new(s),
        (ScreenId.RELEASE, "next"): lambda a, s: a._secret_then_card(
            s, "card_sign_password", sign=True
        ),
        (None, "to_my_page"): lambda a, s: a._to_my_page(s),
        (None, "back"): lambda a, s: a._to_my_page(s),
        (None, "cancel"): lambda a, s: a._to_my_page(s),
        (None, "ok"): lambda a, s: a._to_my_page(s),
    }


def _held(s: AppState) -> list[Hierarchy]:
    if s.my_page is None:
        return []
    live = (CertStatus.REGISTERED, CertStatus.SUSPENDED, CertStatus.READY)
    return [h for h in _ORDER if s.my_page.status(h) in live]


# --- rendering: state -> Screen ------------------------------------------------------------

_STATUS_TEXT = {
    CertStatus.NONE: "status_none",
    CertStatus.APPLIED: "status_applied",
    CertStatus.READY: "ready_status",
    CertStatus.REGISTERED: "status_registered",
    CertStatus.SUSPENDED: "status_suspended",
    CertStatus.REVOKED: "status_revoked",
}


def _p(text_id: str, **params: str) -> Item:
    return Item(ItemKind.PARAGRAPH, text_id, tuple(params.items()))


def _h(text_id: str) -> Item:
    return Item(ItemKind.HEADING, text_id)


def _field(s: AppState, name: str, label: str, hint: str = "", numeric: bool = False) -> Field:
    return Field(name, label, s.fields.get(name, ""), True, hint, numeric)


def _render(s: AppState) -> Screen:
    body: list[Element] = []
    title = "home_title"
    guide: tuple[str, ...] = ()
    dialog: Dialog | None = None
    awaits_card = False
    page = s.my_page
    sid = s.screen

    revoke_old = Dialog(
        DialogId.REVOKE_OLD,
        "revoke_old_title",
        "revoke_old_body",
        (Button("agree_next", "agree_next", chevron=True), Button("quit", "quit", chevron=True)),
    )
    if sid is ScreenId.HOME:
        body = [Button("my_page", "my_page", chevron=True)]
        guide = ("guide_step1", "guide_step2", "guide_step2_note")
    elif sid is ScreenId.MY_PAGE:
        title = "my_page"
        body = _my_page_body(s)
        ready = page is not None and CertStatus.READY in (page.sign, page.auth)
        guide = ("guide_step12_note", "guide_step12") if ready else ("guide_step3",)
    elif sid is ScreenId.APPLY_FORM:
        title = "model_change" if s.kind is ApplicationKind.MODEL_CHANGE else "apply_title"
        confirmed = "confirmed" in s.checked
        body = [
            _p("uses_card"),
            _p("enter_card_sign_password"),
            _h("notes_heading"),
            Item(ItemKind.BULLET, "note_signature"),
            Item(ItemKind.BULLET, "note_give_away"),
            _field(s, "card_sign_password", "password", "sign_password_hint"),
            _p("choose_certs_instruction"),
            Checkbox("cert_sign", "cert_sign", "cert_sign" in s.checked),
            Checkbox("cert_auth", "cert_auth", "cert_auth" in s.checked),
            _p("confirm_instruction"),
            _p("terms_article1"),
            Checkbox("confirmed", "confirmed", confirmed),
            Button("apply", "apply", enabled=confirmed, chevron=True),
            Button("back", "back"),
        ]
        if s.kind is ApplicationKind.MODEL_CHANGE:
            guide = ("guide_step4", "guide_step5", "guide_step6", "guide_step7")
    elif sid is ScreenId.CARD_READ:
        title = "card_read_title"
        awaits_card = True
        body = [_p("card_read_instruction"), Button("cancel", "cancel")]
        guide = ("guide_step8",)
        if s.dialog is DialogId.REVOKE_OLD:
            dialog = revoke_old
            guide = ("guide_step9_note", "guide_step9", "guide_continued")
    elif sid is ScreenId.NEW_PASSWORD:
        title = "new_password_title"
        cert = s.password_step or Hierarchy.SIGN
        sign = cert is Hierarchy.SIGN
        hint = "sign_password_hint" if sign else "auth_pin_hint"
        body = [
            Item(ItemKind.LABEL, CERT_TEXT[cert], name=cert.value),
            _p(f"new_password_for_{cert.value}"),
            _field(s, "new_password", "password", hint, numeric=not sign),
            _field(s, "new_password_again", "password_again", numeric=not sign),
            Button("next", "next", chevron=True),
        ]
        guide = (
            (
                "guide_step10_note",
                "guide_step10",
                *(("guide_screen_example_sign",) if sign else ()),
                "guide_step11",
            )
            if s.release_draft is None
            else ()
        )
        if s.dialog is DialogId.REVOKE_OLD:
            dialog = revoke_old
    elif sid is ScreenId.APPLY_DONE:
        title = "apply_done_title"
        body = [_p("apply_done_body"), _p("apply_done_wait"), Button("to_my_page", "to_my_page")]
        guide = ("guide_step11_caption", "guide_step12_note")
    elif sid is ScreenId.REGISTER:
        title = "register_title"
        body = [_p("register_body")]
        if s.register_ask:
            for h in _ORDER:
                if page is None or page.status(h) is CertStatus.READY:
                    body.append(
                        _field(s, "sign_password", "phone_sign_password_label",
                               "sign_password_hint")
                        if h is Hierarchy.SIGN
                        else _field(s, "auth_pin", "phone_auth_pin_label", "auth_pin_hint",
                                    numeric=True)
                    )  # fmt: skip
        body += [Button("register", "register"), Button("back", "back")]
        guide = ("guide_step13",)
    elif sid is ScreenId.REGISTER_DONE:
        title = "register_done_title"
        body = [_p("register_done_body")]
        if page is None or page.auth is CertStatus.REGISTERED:
            body.append(Button("enrol_biometrics", "enrol_biometrics", chevron=True))
        body += [
            Button("self_check", "self_check", chevron=True),
            Button("to_my_page", "to_my_page", chevron=True),
        ]
        guide = ("guide_step13_caption", "guide_biometrics_note", "guide_manual")
    elif sid is ScreenId.BIOMETRICS:
        title = "biometrics_title"
        body = [
            _p("biometrics_body"),
            _field(s, "auth_pin", "phone_auth_pin_label", "auth_pin_hint", numeric=True),
            Button("register", "register"),
            Button("back", "back"),
        ]
    elif sid is ScreenId.SELF_CHECK:
        title = "self_check_title"
        body = _self_check_body(s)
    elif sid is ScreenId.REVOKE_OWN:
        title = "revoke_own_title"
        held = _held(s) or list(_ORDER)
        chosen = frozenset(h for h in held if CERT_CHECKBOX[h] in s.checked)
        # The secret of the certificate the revocation acts on (lifecycle.revocation_secret).
        signing = revocation_secret(chosen or frozenset(held)) is Hierarchy.SIGN
        body = [
            _p("revoke_own_body" if signing else "revoke_own_body_pin"),
            *(
                Checkbox(CERT_CHECKBOX[h], CERT_TEXT[h], CERT_CHECKBOX[h] in s.checked)
                for h in held
            ),
            _field(
                s,
                "secret",
                "phone_sign_password_label" if signing else "phone_auth_pin_label",
                "sign_password_hint" if signing else "auth_pin_hint",
                numeric=not signing,
            ),
            Button("revoke_do", "revoke_do"),
            Button("back", "back"),
        ]
    elif sid is ScreenId.REVOKE_OTHER:
        title = "revoke_other_title"
        body = [
            _p("revoke_other_body"),
            _field(s, "card_sign_password", "card_sign_password_label", "sign_password_hint"),
            Button("next", "next", chevron=True),
            Button("back", "back"),
        ]
    elif sid is ScreenId.RESET_CHOOSE:
        title = "reset_title"
        body = [_p("reset_choose")]
        for h, name in ((Hierarchy.SIGN, "reset_sign"), (Hierarchy.AUTH, "reset_auth")):
            if page is not None and page.status(h) is CertStatus.REGISTERED:
                body.append(Button(name, CERT_TEXT[h], chevron=True))
        body.append(Button("back", "back"))
    elif sid is ScreenId.RESET_CARD:
        title = "reset_title"
        body = [
            Item(ItemKind.LABEL, CERT_TEXT[s.reset_cert or Hierarchy.SIGN]),
            _p("uses_card"),
            _p("enter_card_sign_password"),
            _field(s, "card_secret", "card_sign_password_label", "sign_password_hint"),
            Button("next", "next", chevron=True),
            Button("back", "back"),
        ]
    elif sid is ScreenId.RESET_NEW:
        title = "new_password_title"
        cert = s.reset_cert or Hierarchy.SIGN
        sign = cert is Hierarchy.SIGN
        body = [
            Item(ItemKind.LABEL, CERT_TEXT[cert]),
            _p(f"new_password_for_{cert.value}"),
            _field(
                s,
                "new_password",
                "password",
                "sign_password_hint" if sign else "auth_pin_hint",
                numeric=not sign,
            ),
            _field(s, "new_password_again", "password_again", numeric=not sign),
            Button("next", "next", chevron=True),
        ]
    elif sid is ScreenId.RELEASE:
        title = "release_title"
        body = [
            _p("release_body"),
            _p("uses_card"),
            _field(s, "card_sign_password", "card_sign_password_label", "sign_password_hint"),
            Button("next", "next", chevron=True),
            Button("back", "back"),
        ]
    elif sid is ScreenId.CARD_SETTINGS:
        title = "menu_card_settings"
        body = [_p("card_settings_body"), Button("back", "back")]
    elif sid is ScreenId.DONE:
        title = "my_page"
        body = [_p(s.done_text or "ok"), Button("to_my_page", "to_my_page", chevron=True)]
    elif sid is ScreenId.OLD_PHONE_NOTICE:
        title = "old_phone_notice_title"
        body = [_p(s.notice_text or "old_phone_deleted"), Button("ok", "ok")]

    banner = Banner("push_ready", "push_ready_body") if s.banner else None
    return Screen(sid, title, tuple(body), dialog, banner, s.message, guide, awaits_card)


def _my_page_body(s: AppState) -> list[Element]:
    page = s.my_page
    body: list[Element] = []
    if page is not None and (page.sign, page.auth) != (CertStatus.NONE, CertStatus.NONE):
        body.append(_h("menu_this_phone_heading"))
        # ⑫ lists the user-authentication certificate first
        for h in (Hierarchy.AUTH, Hierarchy.SIGN):
            body.append(
                Item(
                    ItemKind.STATUS,
                    CERT_TEXT[h],
                    detail_id=_STATUS_TEXT[page.status(h)],
                    name=h.value,
                )
            )
        statuses = (page.sign, page.auth)
        if CertStatus.READY in statuses:
            body.append(Button("register", "register"))
        if CertStatus.SUSPENDED in statuses:
            body.append(Button("release", "menu_release", chevron=True))
        if CertStatus.REGISTERED in statuses:
            body += [
                Button("self_check", "self_check", chevron=True),
                Button("password_reset", "menu_password_reset", chevron=True),
            ]
        if any(st in (CertStatus.REGISTERED, CertStatus.SUSPENDED) for st in statuses):
            body.append(Button("revoke_own", "revoke", chevron=True))
    push_on = page.push_enabled if page is not None else True
    body += [
        Button("menu_apply", "menu_apply", chevron=True),
        _h("menu_transfer_heading"),
        Button("model_change", "model_change", chevron=True),
        _h("menu_other_phone_heading"),
        Button("revoke_other", "revoke", chevron=True),
        _h("menu_card_heading"),
        Button("card_settings", "menu_card_settings", chevron=True),
        _h("menu_push_heading"),
        Button("push", "menu_push_on" if push_on else "menu_push_off", chevron=True),
    ]
    return body


_VALIDITY_TEXT = {
    Validity.GOOD: "self_check_ok",
    Validity.REVOKED: "self_check_revoked",
    Validity.SUSPENDED: "self_check_suspended",
    Validity.UNKNOWN: "self_check_unknown",
}


def _self_check_body(s: AppState) -> list[Element]:
    page = s.my_page
    body: list[Element] = [_p("self_check_body")]
    if s.self_check is None:
        if page is None or page.sign is CertStatus.REGISTERED:
            body.append(
                _field(s, "sign_password", "phone_sign_password_label", "sign_password_hint")
            )
        if (page is None or page.auth is CertStatus.REGISTERED) and not (
            page is not None and page.biometrics_enrolled
        ):
            body.append(
                _field(s, "auth_pin", "phone_auth_pin_label", "auth_pin_hint", numeric=True)
            )
        body.append(Button("self_check", "self_check"))
    else:
        for h, result in ((Hierarchy.SIGN, s.self_check.sign), (Hierarchy.AUTH, s.self_check.auth)):
            if result is None:
                continue
            detail = _VALIDITY_TEXT[result]
            body.append(Item(ItemKind.STATUS, CERT_TEXT[h], detail_id=detail, name=h.value))
    body.append(Button("to_my_page", "to_my_page", chevron=True))
    return body
