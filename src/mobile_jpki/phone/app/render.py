"""The app's state rendered as a :class:`Screen`: which texts, inputs and buttons each screen shows.

Pure: reads an :class:`AppState`, never the backend. The rules that change the state live in
:mod:`.flows`; what a backend error reads as lives in :mod:`.messages`.
"""

from __future__ import annotations

from mobile_jpki.lifecycle import revocation_secret
from mobile_jpki.phone.app.backend import AppCertStatus, Validity
from mobile_jpki.phone.app.screens import (
    CERT_CHECKBOX,
    CERT_ORDER,
    CERT_TEXT,
    AppState,
    Banner,
    Button,
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


def render(s: AppState) -> Screen:
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
        ready = page is not None and AppCertStatus.READY in (page.sign, page.auth)
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
            for h in CERT_ORDER:
                if page is None or page.status(h) is AppCertStatus.READY:
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
        if page is None or page.auth is AppCertStatus.REGISTERED:
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
            if page is not None and page.status(h) is AppCertStatus.REGISTERED:
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
            body.append(Button("register", "register"))
        if AppCertStatus.SUSPENDED in statuses:
            body.append(Button("release", "menu_release", chevron=True))
        if AppCertStatus.REGISTERED in statuses:
            body += [
                Button("self_check", "self_check", chevron=True),
                Button("password_reset", "menu_password_reset", chevron=True),
            ]
        if any(st in (AppCertStatus.REGISTERED, AppCertStatus.SUSPENDED) for st in statuses):
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
        body.append(Button("self_check", "self_check"))
    else:
        for h, result in ((Hierarchy.SIGN, s.self_check.sign), (Hierarchy.AUTH, s.self_check.auth)):
            if result is None:
                continue
            detail = _VALIDITY_TEXT[result]
            body.append(Item(ItemKind.STATUS, CERT_TEXT[h], detail_id=detail, name=h.value))
    body.append(Button("to_my_page", "to_my_page", chevron=True))
    return body
