"""The app's state rendered as a :class:`Screen`: which texts, inputs and buttons each screen shows.

Pure: reads an :class:`AppState`, never the backend. The rules that change the state live in
:mod:`.flows`; what a backend error reads as lives in :mod:`.messages`.
"""

from __future__ import annotations

from mobile_jpki.lifecycle import revocation_secret
from mobile_jpki.phone.app.authapp_flow import SCREENS as AUTHAPP_SCREENS
from mobile_jpki.phone.app.authapp_flow import render_authapp
from mobile_jpki.phone.app.backend import AppCertStatus, Validity
from mobile_jpki.phone.app.screens import (
    CERT_CHECKBOX,
    CERT_ORDER,
    CERT_TEXT,
    AppState,
    Banner,
    Button,
    ButtonStyle,
    CardPurpose,
    Checkbox,
    Dialog,
    DialogId,
    Element,
    Field,
    Item,
    ItemKind,
    Screen,
    ScreenId,
)
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind


def held_certificates(s: AppState) -> list[Hierarchy]:
    """The certificates this phone holds (ready, registered or suspended), signing first."""
    if s.my_page is None:
        return []
    live = (AppCertStatus.REGISTERED, AppCertStatus.SUSPENDED, AppCertStatus.READY)
    return [h for h in CERT_ORDER if s.my_page.status(h) in live]


_STATUS_TEXT = {
    AppCertStatus.NONE: "status_none",
    AppCertStatus.APPLIED: "status_applied",
    AppCertStatus.READY: "ready_status",
    AppCertStatus.REGISTERED: "status_registered",
    AppCertStatus.SUSPENDED: "status_suspended",
    AppCertStatus.REVOKED: "status_revoked",
}


def _p(text_id: str, **params: str) -> Item:
    return Item(ItemKind.PARAGRAPH, text_id, tuple(params.items()))


def _h(text_id: str) -> Item:
    return Item(ItemKind.HEADING, text_id)


def _field(s: AppState, name: str, label: str, hint: str = "", numeric: bool = False) -> Field:
    return Field(name, label, s.fields.get(name, ""), True, hint, numeric)


_PRIMARY, _SECONDARY, _DESTRUCTIVE = (
    ButtonStyle.PRIMARY,
    ButtonStyle.SECONDARY,
    ButtonStyle.DESTRUCTIVE,
)
_ROW, _LINK, _TILE = ButtonStyle.ROW, ButtonStyle.LINK, ButtonStyle.TILE


def _back(name: str = "back") -> Button:
    """The app bar's back arrow: the same action as the screen's 戻る."""
    return Button(name, "back", style=_SECONDARY)


def _dialog(did: DialogId, title: str, body: str, yes: Button, no: Button) -> Dialog:
    return Dialog(did, title, body, (yes, no))


_DIALOGS: dict[DialogId, Dialog] = {
    DialogId.REVOKE_OLD: _dialog(
        DialogId.REVOKE_OLD,
        "revoke_old_title",
        "revoke_old_body",
        Button("agree_next", "agree_next", style=_PRIMARY),
        Button("quit", "quit", style=_SECONDARY),
    ),
    # 失効 cannot be undone: the destructive action asks once more, in the app's own step.
    DialogId.REVOKE_OWN_CONFIRM: _dialog(
        DialogId.REVOKE_OWN_CONFIRM,
        "revoke_own_confirm_title",
        "revoke_own_confirm_body",
        Button("revoke_confirm", "revoke_do", style=_DESTRUCTIVE),
        Button("revoke_cancel", "cancel", style=_SECONDARY),
    ),
    DialogId.REVOKE_OTHER_CONFIRM: _dialog(
        DialogId.REVOKE_OTHER_CONFIRM,
        "revoke_other_confirm_title",
        "revoke_other_confirm_body",
        Button("revoke_confirm", "revoke_do", style=_DESTRUCTIVE),
        Button("revoke_cancel", "cancel", style=_SECONDARY),
    ),
}


def render(s: AppState) -> Screen:
    body: list[Element] = []
    title = "home_title"
    back: Button | None = _back()
    awaits_card = False
    page = s.my_page
    sid = s.screen
    model_change = s.kind is ApplicationKind.MODEL_CHANGE

    if sid is ScreenId.HOME:
        back = None
        body = [
            Button("my_page", "my_page", style=_TILE),
            Button("manual", "home_manual", style=_TILE),
            Button("help", "home_help", style=_TILE),
            Button("authapp", "authapp_tile", style=_TILE),
        ]
    elif sid is ScreenId.MY_PAGE:
        title = "my_page"
        back = _back("home")
        body = _my_page_body(s)
    elif sid is ScreenId.APPLY_FORM:
        title = "model_change" if model_change else "apply_title"
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
            Button("apply", "apply", enabled=confirmed, style=_PRIMARY),
            Button("back", "back", style=_SECONDARY),
        ]
    elif sid is ScreenId.CARD_READ:
        title = "card_read_title"
        awaits_card = True
        back = _back("cancel")
        body = [_p("card_read_instruction"), Button("cancel", "cancel", style=_SECONDARY)]
    elif sid is ScreenId.NEW_PASSWORD:
        cert = s.password_step or Hierarchy.SIGN
        sign = cert is Hierarchy.SIGN
        # ⑩'s screen (the document's example is the signing certificate's) is 「新しいパスワード
        # の設定」; the user-authentication certificate's secret is a 4-digit 暗証番号.
        title = "new_password_title" if sign else "new_pin_title"
        back = None
        body = [
            Item(ItemKind.LABEL, CERT_TEXT[cert], name=cert.value),
            _p(f"new_password_for_{cert.value}"),
            *_new_secret_fields(s, sign),
            Button("next", "next", style=_PRIMARY),
        ]
    elif sid is ScreenId.APPLY_DONE:
        title = "apply_done_title"
        back = None
        push_on = page.push_enabled if page is not None else True
        # The promise of a push is made only when push notifications are on.
        wait = "apply_done_wait" if push_on else "apply_done_wait_no_push"
        body = [_p("apply_done_body"), _p(wait), Button("to_my_page", "to_my_page")]
    elif sid is ScreenId.REGISTER:
        title = "register_title"
        body = [_p("register_body")]
        if s.register_ask:
            for h in CERT_ORDER:
                if page is None or page.status(h) is AppCertStatus.READY:
                    body.append(
                        _field(s, "sign_password", "phone_sign_password_label",
                               "sign_password_hint")
                        if h is Hierarchy.SIGN
                        else _field(s, "auth_pin", "phone_auth_pin_label", "auth_pin_hint",
                                    numeric=True)
                    )  # fmt: skip
        body += [
            Button("register", "register", style=_PRIMARY),
            Button("back", "back", style=_SECONDARY),
        ]
    elif sid is ScreenId.REGISTER_DONE:
        title = "register_done_title"
        back = None
        body = [_p("register_done_body")]
        if page is None or page.auth is AppCertStatus.REGISTERED:
            body.append(Button("enrol_biometrics", "enrol_biometrics", style=_ROW))
        body += [
            Button("self_check", "self_check", style=_ROW),
            Button("to_my_page", "to_my_page", style=_PRIMARY),
            Button("manual", "guide_manual", style=_LINK),  # the document's link, after ⑬
        ]
    elif sid is ScreenId.BIOMETRICS:
        title = "biometrics_title"
        body = [
            _p("biometrics_body"),
            _field(s, "auth_pin", "phone_auth_pin_label", "auth_pin_hint", numeric=True),
            Button("register", "register", style=_PRIMARY),
            Button("back", "back", style=_SECONDARY),
        ]
    elif sid is ScreenId.SELF_CHECK:
        title = "self_check_title"
        back = _back("to_my_page")
        body = _self_check_body(s)
    elif sid is ScreenId.REVOKE_OWN:
        title = "revoke_own_title"
        held = held_certificates(s) or list(CERT_ORDER)
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
            Button("revoke_do", "revoke_do", style=_DESTRUCTIVE),
            Button("back", "back", style=_SECONDARY),
        ]
    elif sid is ScreenId.REVOKE_OTHER:
        title = "revoke_other_title"
        body = [
            _p("revoke_other_body"),
            _field(s, "card_sign_password", "card_sign_password_label", "sign_password_hint"),
            Button("revoke_do", "revoke_do", style=_DESTRUCTIVE),
            Button("back", "back", style=_SECONDARY),
        ]
    elif sid is ScreenId.RESET_CHOOSE:
        title = "reset_title"
        body = [_p("reset_choose")]
        for h, name in ((Hierarchy.SIGN, "reset_sign"), (Hierarchy.AUTH, "reset_auth")):
            if page is not None and page.status(h) is AppCertStatus.REGISTERED:
                body.append(Button(name, CERT_TEXT[h], style=_ROW))
        body.append(Button("back", "back", style=_SECONDARY))
    elif sid is ScreenId.RESET_CARD:
        title = "reset_title"
        body = [
            Item(ItemKind.LABEL, CERT_TEXT[s.reset_cert or Hierarchy.SIGN]),
            _p("uses_card"),
            _p("enter_card_sign_password"),
            _field(s, "card_secret", "card_sign_password_label", "sign_password_hint"),
            Button("next", "next", style=_PRIMARY),
            Button("back", "back", style=_SECONDARY),
        ]
    elif sid is ScreenId.RESET_NEW:
        cert = s.reset_cert or Hierarchy.SIGN
        sign = cert is Hierarchy.SIGN
        title = "new_password_title" if sign else "new_pin_title"
        back = None
        body = [
            Item(ItemKind.LABEL, CERT_TEXT[cert]),
            _p(f"new_password_for_{cert.value}"),
            *_new_secret_fields(s, sign),
            Button("next", "next", style=_PRIMARY),
        ]
    elif sid is ScreenId.RELEASE:
        title = "release_title"
        body = [
            _p("release_body"),
            _p("uses_card"),
            _field(s, "card_sign_password", "card_sign_password_label", "sign_password_hint"),
            Button("next", "next", style=_PRIMARY),
            Button("back", "back", style=_SECONDARY),
        ]
    elif sid is ScreenId.CARD_SETTINGS:
        title = "menu_card_settings"
        body = [_p("card_settings_body"), Button("back", "back", style=_SECONDARY)]
    elif sid is ScreenId.DONE:
        title = "my_page"
        back = None
        body = [_p(s.done_text or "ok"), Button("to_my_page", "to_my_page")]
    elif sid is ScreenId.OLD_PHONE_NOTICE:
        title = "old_phone_notice_title"
        back = None
        body = [_p(s.notice_text or "old_phone_deleted"), Button("ok", "ok")]
    elif sid is ScreenId.MANUAL:
        title = "manual_title"
        body = manual_body(s.manual_page)
    elif sid is ScreenId.HELP:
        title = "help_title"
        body = hotline_items()
    elif sid in AUTHAPP_SCREENS:
        title, body, back = render_authapp(s)

    dialog = _DIALOGS[s.dialog] if s.dialog is not None else None
    banner = Banner("push_ready", "push_ready_body") if s.banner else None
    return Screen(sid, title, tuple(body), dialog, banner, s.message, guide(s), awaits_card, back)


def _new_secret_fields(s: AppState, sign: bool) -> list[Element]:
    """⑩: a new signing パスワード (6-16) or user-authentication 暗証番号 (4 digits), twice."""
    if sign:
        return [
            _field(s, "new_password", "password", "sign_password_hint"),
            _field(s, "new_password_again", "password_again"),
        ]
    return [
        _field(s, "new_password", "pin", "auth_pin_hint", numeric=True),
        _field(s, "new_password_again", "pin_again", numeric=True),
    ]


def guide(s: AppState) -> tuple[str, ...]:
    """The document's numbered steps (①-⑬) that apply to the screen the phone is on now, read
    from the phone's state: after registration no step is left, so none is shown. Only steps:
    the document's captions and notes are in the manual (:func:`manual_body`)."""
    page = s.my_page
    statuses = (page.sign, page.auth) if page is not None else ()
    ready = AppCertStatus.READY in statuses
    holds = any(st in statuses for st in (AppCertStatus.REGISTERED, AppCertStatus.SUSPENDED))
    waiting = AppCertStatus.APPLIED in statuses
    model_change = s.kind is ApplicationKind.MODEL_CHANGE
    sid = s.screen
    if sid is ScreenId.HOME:
        return ("guide_step1", "guide_step2") if ready or not (holds or waiting) else ()
    if sid is ScreenId.MY_PAGE:
        if ready:
            return ("guide_step12",)
        return () if holds or waiting else ("guide_step3",)
    if s.dialog is DialogId.REVOKE_OLD:
        return ("guide_step9",)
    if sid is ScreenId.APPLY_FORM and model_change:
        return ("guide_step4", "guide_step5", "guide_step6", "guide_step7")
    if sid is ScreenId.CARD_READ and model_change and s.card_purpose is CardPurpose.APPLY:
        return ("guide_step8",)
    if sid is ScreenId.NEW_PASSWORD and model_change and s.release_draft is None:
        return ("guide_step10", "guide_step11")
    if sid is ScreenId.APPLY_DONE:
        return ("guide_step12",)
    if sid is ScreenId.REGISTER:
        return ("guide_step13",)
    return ()


def _step(text_id: str) -> Item:
    return Item(ItemKind.STEP, text_id)


def _note(text_id: str) -> Item:
    return Item(ItemKind.NOTE, text_id)


def manual_body(page: int) -> list[Element]:
    """The app's manual: the document's steps with their notes and captions, in its order.
    Page 1 is ①-⑨ and ends on the document's link 「続きはこちら」; page 2 is ⑩-⑬ and the
    help block."""
    if page == 1:
        return [
            _h("guide_heading"),
            _p("guide_intro"),
            _p("guide_intro_steps"),
            _note("guide_wifi"),
            _step("guide_step1"),
            _step("guide_step2"),
            _note("guide_step2_note"),
            _step("guide_step3"),
            _step("guide_step4"),
            _step("guide_step5"),
            _step("guide_step6"),
            _step("guide_step7"),
            _step("guide_step8"),
            _step("guide_step9"),
            _note("guide_step9_note"),
            Button("manual_next", "guide_continued", style=_LINK),
        ]
    return [
        Item(ItemKind.CAPTION, "guide_screen_example_sign"),
        _note("guide_step10_note"),
        _step("guide_step10"),
        _step("guide_step11"),
        Item(ItemKind.CAPTION, "guide_step11_caption"),
        _note("guide_step12_note"),
        _step("guide_step12"),
        _step("guide_step13"),
        Item(ItemKind.CAPTION, "guide_step13_caption"),
        _note("guide_biometrics_note"),
        *hotline_items(),
    ]


def _tel(number: str, label: str = "") -> Item:
    return Item(ItemKind.TEL, number, detail_id=label)


def hotline_items() -> list[Element]:
    """The document's whole help block (お問合せ), in its order: wherever the app shows the
    hotline, it shows all of it (hours, IP-phone and multilingual lines)."""
    return [
        _h("hotline_heading"),
        _tel("hotline_free_dial_number", "hotline_free_dial"),
        Item(ItemKind.LABEL, "hotline_hours_heading"),
        _p("hotline_hours_weekday"),
        _p("hotline_hours_weekend"),
        _p("hotline_suspend_24h"),
        Item(ItemKind.LABEL, "hotline_ip_heading"),
        _tel("hotline_ip_card_number", "hotline_ip_card"),
        _tel("hotline_ip_other_number", "hotline_ip_other"),
        Item(ItemKind.LABEL, "hotline_multi_heading"),
        _tel("hotline_multi_system_number", "hotline_multi_system"),
        _note("hotline_multi_system_en"),
        _tel("hotline_multi_card_number", "hotline_multi_card"),
        _note("hotline_multi_card_en"),
        _note("hotline_multi_note_en"),
    ]


def _my_page_body(s: AppState) -> list[Element]:
    page = s.my_page
    body: list[Element] = []
    if page is not None and (page.sign, page.auth) != (AppCertStatus.NONE, AppCertStatus.NONE):
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
        if AppCertStatus.READY in statuses:
            body.append(Button("register", "register", style=_PRIMARY))
        if AppCertStatus.SUSPENDED in statuses:
            body.append(Button("release", "menu_release", style=_ROW))
        if AppCertStatus.REGISTERED in statuses:
            body += [
                Button("self_check", "self_check", style=_ROW),
                Button("password_reset", "menu_password_reset", style=_ROW),
            ]
        if any(st in (AppCertStatus.REGISTERED, AppCertStatus.SUSPENDED) for st in statuses):
            # Not a second 「失効」: the document's 「失効 >」 is the other phone's (below).
            body.append(Button("revoke_own", "revoke_own_row", style=_ROW))
    push_on = page.push_enabled if page is not None else True
    # ③ as the document shows it: the rows and the headings above them.
    body += [
        Button("menu_apply", "menu_apply", style=_ROW),
        _h("menu_transfer_heading"),
        Button("model_change", "model_change", style=_ROW),
        _h("menu_other_phone_heading"),
        Button("revoke_other", "revoke", style=_ROW),
        _h("menu_card_heading"),
        Button("card_settings", "menu_card_settings", style=_ROW),
        _h("menu_push_heading"),
        Button("push", "menu_push_on" if push_on else "menu_push_off", style=_ROW),
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
        if page is None or page.sign is AppCertStatus.REGISTERED:
            body.append(
                _field(s, "sign_password", "phone_sign_password_label", "sign_password_hint")
            )
        if (page is None or page.auth is AppCertStatus.REGISTERED) and not (
            page is not None and page.biometrics_enrolled
        ):
            body.append(
                _field(s, "auth_pin", "phone_auth_pin_label", "auth_pin_hint", numeric=True)
            )
        body.append(Button("self_check", "self_check", style=_PRIMARY))
    else:
        for h, result in ((Hierarchy.SIGN, s.self_check.sign), (Hierarchy.AUTH, s.self_check.auth)):
            if result is None:
                continue
            detail = _VALIDITY_TEXT[result]
            body.append(Item(ItemKind.STATUS, CERT_TEXT[h], detail_id=detail, name=h.value))
    body.append(Button("to_my_page", "to_my_page", style=_SECONDARY))
    return body
