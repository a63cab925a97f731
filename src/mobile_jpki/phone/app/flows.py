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

The events live in :mod:`.events`, what a state shows in :mod:`.render` and what an error
reads as in :mod:`.messages`; this module holds only the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from mobile_jpki.clock import Clock
from mobile_jpki.lifecycle import revocation_secret
from mobile_jpki.phone.app import authapp_flow
from mobile_jpki.phone.app.backend import (
    CONSENT_REQUIRED,
    TERMS_VERSION,
    AppBackend,
    BackendError,
    CardTicket,
    NewSecrets,
    PushKind,
    Rejected,
    ReleaseDraft,
)
from mobile_jpki.phone.app.events import (
    ComeOnline,
    Event,
    OpenLink,
    PushReceived,
    TapBanner,
    TapCard,
    Toggle,
    TypeText,
)
from mobile_jpki.phone.app.messages import message_for
from mobile_jpki.phone.app.old_phone import carry_out_instructions
from mobile_jpki.phone.app.render import held_certificates, render
from mobile_jpki.phone.app.screens import (
    CERT_CHECKBOX,
    CERT_ORDER,
    AppState,
    CardPurpose,
    DialogId,
    Message,
    MessageCode,
    Screen,
    ScreenId,
)
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind
from mobile_jpki.reader.errors import InvalidSecret
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin

log = logging.getLogger(__name__)


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
        if self.state.screen in (ScreenId.HOME, ScreenId.MY_PAGE) and not notices:
            # HOME too: the simulator's guide reads the phone's state from it (render.guide).
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
        return render(self.state)

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
        if isinstance(event, OpenLink):
            return authapp_flow.open_link(self, s, event.url)
        screen = render(s)
        if isinstance(event, TypeText):
            typed = screen.field(event.field)
            if typed is None:
                return s
            # Every password and PIN of the app: lowercase is upper-cased as typed
            # (JPKI-FACTS "Passwords and PINs"); digits are unaffected. A pasted URL is kept.
            upper = typed.secret and event.value.isascii()
            value = event.value.upper() if upper else event.value
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
        base: dict[str, Any] = {
            "fields": {},
            "checked": frozenset(),
            "message": None,
            "dialog": None,
        }
        return replace(s, screen=screen, **{**base, **changes})

    def _toggle(self, s: AppState, name: str) -> AppState:
        checked = set(s.checked)
        if name in checked:
            checked.discard(name)
        else:
            checked.add(name)
        certs = {CERT_CHECKBOX[h] for h in CERT_ORDER}
        if (
            s.screen in (ScreenId.APPLY_FORM, ScreenId.REVOKE_OWN)
            and name in certs
            and not (checked & certs)
        ):
            # ⑤ either certificate may be unticked, never both
            return replace(s, message=Message(MessageCode.CHOOSE_ONE_CERT))
        return replace(s, checked=frozenset(checked), message=None)

    def _chosen(self, s: AppState) -> frozenset[Hierarchy]:
        return frozenset(h for h in CERT_ORDER if CERT_CHECKBOX[h] in s.checked)

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
        if purpose is CardPurpose.AUTHAPP:  # its errors are its own screens' messages
            return authapp_flow.approve(self, s)
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
        first = next(h for h in CERT_ORDER if h in s.draft.certs)
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
            h
            for h in CERT_ORDER
            if h in s.draft.certs and CERT_ORDER.index(h) > CERT_ORDER.index(step)
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
            sign = cert is Hierarchy.SIGN
            return Message(MessageCode.PASSWORD_MISMATCH if sign else MessageCode.PIN_MISMATCH)
        return value

    # MY_PAGE and the rest -----------------------------------------------------------------
    def _register(self, s: AppState) -> AppState:
        secrets: NewSecrets | None = None
        if s.register_ask:  # the app was restarted since ⑩: the person types them again
            sign = s.fields.get("sign_password")
            auth = s.fields.get("auth_pin")
            try:
                sign = normalise_sign_password(sign) if sign else None
            except InvalidSecret:
                return replace(s, message=Message(MessageCode.PASSWORD_FORMAT), fields={})
            try:  # the 4-digit secret is a 暗証番号: its own message, never 「パスワード」
                auth = validate_auth_pin(auth) if auth else None
            except InvalidSecret:
                return replace(s, message=Message(MessageCode.PIN_FORMAT), fields={})
            secrets = NewSecrets(sign_password=sign, auth_pin=auth)
        try:
            self.backend.register(secrets)
        except BackendError as err:
            ask = s.register_ask or err.code == "secrets-unknown"
            return replace(s, message=message_for(err), fields={}, register_ask=ask)
        return self._refresh(self._go(s, ScreenId.REGISTER_DONE, banner=False, register_ask=False))

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

    def _ask_revoke_own(self, s: AppState) -> AppState:
        """失効する: the secret's format first (a typo never costs one of the element's tries),
        then the confirmation: 失効 cannot be undone."""
        sign = revocation_secret(self._chosen(s)) is Hierarchy.SIGN
        value = s.fields.get("secret", "")
        try:
            value = normalise_sign_password(value) if sign else validate_auth_pin(value)
        except InvalidSecret:
            code = MessageCode.PASSWORD_FORMAT if sign else MessageCode.PIN_FORMAT
            return replace(s, message=Message(code), fields={})
        return replace(s, fields={**s.fields, "secret": value}, dialog=DialogId.REVOKE_OWN_CONFIRM)

    def _revoke_own(self, s: AppState) -> AppState:
        s = replace(s, dialog=None)
        chosen = self._chosen(s)
        value = s.fields.get("secret", "")
        try:
            self.backend.revoke(chosen, value)
        except BackendError as err:
            return replace(s, message=message_for(err), fields={})
        return self._go(s, ScreenId.DONE, done_text="revoke_own_done")

    def _ask_revoke_other(self, s: AppState) -> AppState:
        """失効する on the other phone: the card password's format, then the confirmation,
        then the card (_secret_then_card)."""
        try:
            value = normalise_sign_password(s.fields.get("card_sign_password", ""))
        except InvalidSecret:
            return replace(s, message=Message(MessageCode.PASSWORD_FORMAT))
        return replace(
            s,
            fields={**s.fields, "card_sign_password": value},
            dialog=DialogId.REVOKE_OTHER_CONFIRM,
        )

    def _secret_then_card(self, s: AppState, name: str, sign: bool) -> AppState:
        s = replace(s, dialog=None)
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
        done = "reset_done" if s.reset_cert is Hierarchy.SIGN else "reset_done_pin"
        return self._go(s, ScreenId.DONE, done_text=done, ticket_id=None)

    def _come_online(self, s: AppState) -> AppState:
        outcome = carry_out_instructions(self.backend, self.clock.now())
        if isinstance(outcome, Message):
            return replace(s, message=outcome)
        notice, kept = outcome
        if not notice:
            return s
        return self._go(s, ScreenId.OLD_PHONE_NOTICE, notice_text=notice, notice_ids=kept)

    def _notice_ok(self, s: AppState) -> AppState:
        """OK on the old phone's notice: a kept-certificates notice is not shown again (the
        phone's coming online is polled every second in the simulator)."""
        for instruction_id in s.notice_ids:
            self.backend.notice_shown(instruction_id)
        return self._to_my_page(replace(s, notice_ids=()))

    _buttons: ClassVar[
        dict[tuple[ScreenId | None, str], Callable[[PhoneApp, AppState], AppState]]
    ] = {
        (ScreenId.HOME, "my_page"): lambda a, s: a._to_my_page(s),
        (ScreenId.HOME, "manual"): lambda a, s: a._go(
            s, ScreenId.MANUAL, manual_page=1, return_to=ScreenId.HOME
        ),
        (ScreenId.HOME, "help"): lambda a, s: a._go(s, ScreenId.HELP, return_to=ScreenId.HOME),
        (ScreenId.MY_PAGE, "home"): lambda a, s: a._go(s, ScreenId.HOME),
        (ScreenId.REGISTER_DONE, "manual"): lambda a, s: a._go(
            s, ScreenId.MANUAL, manual_page=1, return_to=ScreenId.REGISTER_DONE
        ),
        # 「続きはこちら」 turns the manual's page; its back arrow turns it back, then leaves.
        (ScreenId.MANUAL, "manual_next"): lambda a, s: replace(s, manual_page=2),
        (ScreenId.MANUAL, "back"): lambda a, s: (
            replace(s, manual_page=1) if s.manual_page > 1 else a._go(s, s.return_to)
        ),
        (ScreenId.HELP, "back"): lambda a, s: a._go(s, s.return_to),
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
            checked=frozenset(CERT_CHECKBOX[h] for h in held_certificates(s))
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
        (ScreenId.REVOKE_OWN, "revoke_do"): lambda a, s: a._ask_revoke_own(s),
        (ScreenId.REVOKE_OWN, "revoke_confirm"): lambda a, s: a._revoke_own(s),
        (ScreenId.REVOKE_OTHER, "revoke_do"): lambda a, s: a._ask_revoke_other(s),
        (ScreenId.REVOKE_OTHER, "revoke_confirm"): lambda a, s: a._secret_then_card(
            s, "card_sign_password", sign=True
        ),
        (None, "revoke_cancel"): lambda a, s: replace(s, dialog=None),
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
        (ScreenId.OLD_PHONE_NOTICE, "ok"): lambda a, s: a._notice_ok(s),
        (None, "to_my_page"): lambda a, s: a._to_my_page(s),
        (None, "back"): lambda a, s: a._to_my_page(s),
        (None, "cancel"): lambda a, s: a._to_my_page(s),
        (None, "ok"): lambda a, s: a._to_my_page(s),
        **authapp_flow.BUTTONS,
    }
