# ruff: noqa: RUF001 - the simulator's Japanese labels use full-width punctuation on purpose
"""Server-side HTML for the simulator: a :class:`Screen` becomes a phone's screen.

Strings are built with :func:`html.escape` on every value that is not ours (texts come from
``phone.app.texts``, values from the person's typing), so nothing typed can become markup.
Every interactive element carries a stable ``data-testid``: ``<kind>-<phone>-<name>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from html import escape

from mobile_jpki.phone.app.authapp_flow import URL_MAX
from mobile_jpki.phone.app.render import hotline_items
from mobile_jpki.phone.app.screens import (
    Button,
    ButtonStyle,
    Checkbox,
    Field,
    Item,
    ItemKind,
    Screen,
)
from mobile_jpki.phone.app.texts import text
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.web.pages import FAVICON_LINK, SANDBOX_BANNER, notice_page

# The simulator's own chrome (not the app's texts): what sits around the phones.
CHROME: Mapping[str, tuple[str, str]] = {
    "title": ("スマホ用電子証明書 シミュレーター", "Smartphone certificate simulator"),
    "old": ("古いスマホ", "Old phone"),
    "new": ("新しいスマホ", "New phone"),
    "card": ("マイナンバーカード", "My Number Card"),
    "card_hint": (
        "カードをスマホにドラッグするか、ボタンでかざします。",
        "Drag the card onto a phone, or use a button to hold it there.",
    ),
    "tap_old": ("古いスマホにかざす", "Hold to the old phone"),
    "tap_new": ("新しいスマホにかざす", "Hold to the new phone"),
    "online": ("ネットワーク接続中", "Online"),
    "offline": ("ネットワーク未接続", "Offline"),
    "go_online": ("ネットワークに接続する", "Connect to a network"),
    "go_offline": ("ネットワークから切断する", "Disconnect"),
    "guide": ("操作手順", "Steps"),
    "operator": ("運用者パネル", "Operator panel"),
    "suspend": ("コールセンター: 一時利用停止", "Hotline: suspend"),
    "change_of_address": ("異動（住所変更）を記録", "Record a change of address"),
    # One press goes past the 48-hour window (inclusive: the old phone deletes while now <=
    # delete_until, flows._come_online), so the after-48-hours notice shows after one press;
    # the 1-hour step shows the old phone back some time later, still within the window.
    "advance": (
        "時間を49時間進める（48時間の期限を過ぎる）",
        "Advance time by 49 hours (past the 48-hour window)",
    ),
    "advance_1h": ("時間を1時間進める（48時間以内）", "Advance time by 1 hour (within 48 hours)"),
    "reset": ("最初からやり直す", "Start over"),
    "now": ("現在時刻", "Now"),
    "lang": ("English", "日本語"),
}


def chrome(key: str, lang: Lang) -> str:
    ja, en = CHROME[key]
    return ja if lang is Lang.JA else en


def _t(text_id: str, lang: Lang, **params: str) -> str:
    return escape(text(text_id, lang, **params))


_ITEM_CLASS: Mapping[ItemKind, str] = {
    ItemKind.BULLET: "bullet",
    ItemKind.LABEL: "label",
    ItemKind.STEP: "step",
    ItemKind.NOTE: "note",
    ItemKind.CAPTION: "caption",
    ItemKind.HINT: "hint",
}


def _item(e: Item, phone: str, lang: Lang) -> str:
    tid = f'data-testid="text-{phone}-{e.text_id}"'
    body = escape(e.render(lang))
    if e.kind is ItemKind.HEADING:
        return f'<h2 class="section" {tid}>{body}</h2>'
    if e.kind is ItemKind.STATUS:
        return (
            f'<div class="status" data-testid="status-{phone}-{escape(e.name)}">'
            f'<span class="cert">{body}</span>'
            f'<span class="state">{escape(e.render_detail(lang))}</span></div>'
        )
    if e.kind is ItemKind.TEL:
        # A number a person taps to call (RFC 3966 tel: URI, digits only).
        digits = "".join(c for c in e.render(Lang.JA) if c.isdigit())
        return (
            f'<a class="tel" href="tel:{digits}" {tid}>'
            f'<span class="tel-label">{escape(e.render_detail(lang))}</span>'
            f'<span class="tel-number">{body}</span></a>'
        )
    cls = _ITEM_CLASS.get(e.kind)
    return f'<p class="{cls}" {tid}>{body}</p>' if cls else f"<p {tid}>{body}</p>"


# How each button weighs: the primary action is filled, 戻る is outlined, 失効する is red.
_BUTTON_CLASS: Mapping[ButtonStyle, str] = {
    ButtonStyle.PRIMARY: "btn btn-primary",
    ButtonStyle.SECONDARY: "btn btn-secondary",
    ButtonStyle.DESTRUCTIVE: "btn btn-destructive",
    ButtonStyle.ROW: "row",
    ButtonStyle.TILE: "tile",
}


def _button(b: Button, phone: str, lang: Lang, testid: str) -> str:
    name = escape(b.name)
    attrs = (
        f' data-action="press" data-phone="{phone}" data-name="{name}"'
        f' data-style="{b.style.value}" data-testid="{testid}-{phone}-{name}"'
    )
    if b.style is ButtonStyle.LINK:  # the document's 「…はこちら」: a link, not a button
        return f'<a class="link" href="#{name}"{attrs}>{_t(b.label_id, lang)}</a>'
    return (
        f'<button type="button" class="{_BUTTON_CLASS[b.style]}"{attrs}'
        f"{'' if b.enabled else ' disabled'}>{_t(b.label_id, lang)}</button>"
    )


def _element(e: Item | Field | Checkbox | Button, phone: str, lang: Lang) -> str:
    if isinstance(e, Item):
        return _item(e, phone, lang)
    if isinstance(e, Field):
        name = escape(e.name)
        hint = (
            f'<small class="hint" data-testid="hint-{phone}-{name}">{_t(e.hint_id, lang)}</small>'
            if e.hint_id
            else ""
        )
        if e.url:  # a URL pasted as it is
            mode = f' inputmode="url" spellcheck="false" maxlength="{URL_MAX}"'
        else:
            mode = ' inputmode="numeric" maxlength="4"' if e.numeric else ' maxlength="16"'
        kind = "url" if e.url else "password" if e.secret else "text"
        return (
            f'<label class="field">{_t(e.label_id, lang)}'
            f'<input type="{kind}" autocomplete="off"'
            f' data-field="{name}" data-testid="input-{phone}-{name}"'
            f' value="{escape(e.value)}"{mode}></label>{hint}'
        )
    if isinstance(e, Checkbox):
        name = escape(e.name)
        return (
            f'<label class="check"><input type="checkbox" data-action="toggle"'
            f' data-phone="{phone}" data-name="{name}" data-testid="checkbox-{phone}-{name}"'
            f"{' checked' if e.checked else ''}>{_t(e.label_id, lang)}</label>"
        )
    return _button(e, phone, lang, "button")


def _body(screen: Screen, phone: str, lang: Lang) -> list[str]:
    """The screen's elements; the home screen's consecutive tiles share one grid."""
    out: list[str] = []
    tiles: list[str] = []
    for e in screen.body:
        if isinstance(e, Button) and e.style is ButtonStyle.TILE:
            tiles.append(_element(e, phone, lang))
            continue
        if tiles:
            out.append(f'<div class="tiles">{"".join(tiles)}</div>')
            tiles = []
        out.append(_element(e, phone, lang))
    if tiles:
        out.append(f'<div class="tiles">{"".join(tiles)}</div>')
    return out


def _app_bar(screen: Screen, phone: str, lang: Lang) -> str:
    """The Mynaportal app's bar: the back arrow (the screen's 戻る action) and the title."""
    back = ""
    if screen.back is not None:
        name = escape(screen.back.name)
        back = (
            f'<button type="button" class="appbar-back" data-action="press"'
            f' data-phone="{phone}" data-name="{name}" data-testid="back-{phone}"'
            f' aria-label="{_t(screen.back.label_id, lang)}"></button>'
        )
    return (
        f'<header class="appbar">{back}'
        f'<h1 data-testid="title-{phone}">{_t(screen.title_id, lang)}</h1></header>'
    )


def render_screen(screen: Screen, phone: str, lang: Lang) -> str:
    """The phone's screen as an HTML fragment."""
    parts = [
        f'<div class="screen" data-testid="screen-{phone}" data-screen="{screen.id.value}">',
        _app_bar(screen, phone, lang),
        '<div class="content">',
    ]
    if screen.banner is not None:
        parts.append(
            f'<div class="banner" role="status" data-action="tap-banner" data-phone="{phone}"'
            f' data-testid="banner-{phone}"><strong>{_t(screen.banner.title_id, lang)}</strong>'
            f"<span>{_t(screen.banner.body_id, lang)}</span></div>"
        )
    if screen.message is not None:
        parts.append(
            f'<div class="message" role="alert" data-testid="message-{phone}"'
            f' data-code="{screen.message.code.value}">{escape(screen.message.render(lang))}'
            "</div>"
        )
    parts.extend(_body(screen, phone, lang))
    if screen.awaits_card:
        parts.append(
            f'<div class="nfc" data-drop-card="{phone}" data-testid="nfc-{phone}">'
            "<span>NFC</span></div>"
        )
    parts.append("</div>")
    if screen.dialog is not None:
        d = screen.dialog
        buttons = "".join(_button(b, phone, lang, "dialog-button") for b in d.buttons)
        parts.append(
            f'<div class="backdrop"><div class="dialog" role="dialog" aria-modal="true"'
            f' data-testid="dialog-{phone}" data-dialog="{d.id.value}">'
            f"<h2>{_t(d.title_id, lang)}</h2><p>{_t(d.body_id, lang)}</p>"
            f'<div class="dialog-buttons">{buttons}</div></div></div>'
        )
    parts.append("</div>")
    return "".join(parts)


def render_guide(screen: Screen, phone: str, lang: Lang) -> str:
    """The document's numbered steps for the screen the phone is on (render.guide): each
    text carries its own number (①-⑬), so the list is not numbered again."""
    if not screen.guide:
        return f'<div class="guide" data-testid="guide-{phone}" hidden></div>'
    items = "".join(
        f'<li data-testid="guide-{phone}-{escape(g)}">{_t(g, lang)}</li>' for g in screen.guide
    )
    return (
        f'<div class="guide" data-testid="guide-{phone}"><h3>{escape(chrome("guide", lang))}'
        f'</h3><ul class="steps">{items}</ul></div>'
    )


def render_hotline(lang: Lang) -> str:
    """The document's whole help block, as the app's help screen shows it."""
    items = "".join(_element(e, "operator", lang) for e in hotline_items())
    return f'<div class="hotline" data-testid="hotline">{items}</div>'


def render_device(screen: Screen, phone: str, lang: Lang, online: bool) -> str:
    """A phone panel: its frame, screen, network switch and the guide's narration."""
    state = chrome("online" if online else "offline", lang)
    switch = chrome("go_offline" if online else "go_online", lang)
    return (
        f'<h2 class="device-name">{escape(chrome(phone, lang))}</h2>'
        f'<div class="phone" data-drop-card="{phone}">{render_screen(screen, phone, lang)}</div>'
        f'<p class="network" data-testid="network-{phone}" data-online="{str(online).lower()}">'
        f'{escape(state)} <button type="button" data-action="network" data-phone="{phone}"'
        f' data-testid="network-toggle-{phone}">{escape(switch)}</button></p>'
        f"{render_guide(screen, phone, lang)}"
    )


# The session's test data (SimulatorWorld.info), in this order, with its labels.
INFO_LABELS: dict[str, tuple[str, str]] = {
    "card_sign_password": ("カード 署名用電子証明書のパスワード", "Card signing password"),
    "card_auth_pin": ("カード 利用者証明用電子証明書の暗証番号", "Card user-authentication PIN"),
    "old_phone_sign_password": ("古いスマホ 署名用パスワード", "Old phone signing password"),
    "old_phone_auth_pin": ("古いスマホ 利用者証明用暗証番号", "Old phone user-authentication PIN"),
    "card": ("カード (devices/cards)", "Card (devices/cards)"),
    "old_phone": ("古いスマホ (devices/phones)", "Old phone (devices/phones)"),
    "new_phone": ("新しいスマホ (devices/phones)", "New phone (devices/phones)"),
    "person": ("利用者 ID", "Person id"),
}


def render_info(info: Mapping[str, str], lang: Lang) -> str:
    """The session's passwords and device ids: test data, shown so a person knows what to
    type (the new phone's passwords are the person's own choice at ⑩)."""
    if not info:
        return ""
    rows = "".join(
        f"<dt>{escape(INFO_LABELS[key][0 if lang is Lang.JA else 1])}</dt>"
        f'<dd data-testid="info-{escape(key)}"><code>{escape(info[key])}</code></dd>'
        for key in INFO_LABELS
        if key in info
    )
    title = "このセッションのテストデータ" if lang is Lang.JA else "This session's test data"
    return f'<h3>{escape(title)}</h3><dl class="info" data-testid="session-info">{rows}</dl>'


# The operator panel's clock steps (web/simulator.py): past the 48-hour deletion window in one
# press, and a small step that stays within it.
ADVANCE: Mapping[str, dt.timedelta] = {
    "advance-1h": dt.timedelta(hours=1),
    "advance-48h": dt.timedelta(hours=49),
}


def render_operator(
    lang: Lang, now: dt.datetime, *, info: Mapping[str, str] | None = None, movable: bool = True
) -> str:
    actions = [
        ("suspend", "suspend"),
        ("change-of-address", "change_of_address"),
        ("advance-1h", "advance_1h"),
        ("advance-48h", "advance"),  # the id kept from when it moved 48 hours (the walk's)
        ("reset", "reset"),
    ]
    if not movable:  # the real clock of `serve` (not a sandbox) cannot be moved on
        actions = [a for a in actions if a[0] not in ADVANCE]
    buttons = "".join(
        f'<button type="button" data-action="operator" data-name="{name}"'
        f' data-testid="operator-{name}">{escape(chrome(key, lang))}</button>'
        for name, key in actions
    )
    return (
        f"<h2>{escape(chrome('operator', lang))}</h2>"
        f"{render_hotline(lang)}"
        f'<p data-testid="operator-now">{escape(chrome("now", lang))}: '
        f"{escape(now.isoformat())}</p>{buttons}{render_info(info or {}, lang)}"
    )


def render_setup_error(message: str, lang: Lang, base: str) -> str:
    """The page when a session's world could not be made: what failed, and how to retry."""
    title = (
        "シミュレーターを準備できませんでした"
        if lang is Lang.JA
        else "The simulator could not start"
    )
    retry = "再読み込み" if lang is Lang.JA else "Reload"
    links = f'<a href="{escape(base)}/">{escape(retry)}</a>'
    return notice_page(title, message, "setup-error", links, lang, base)


def render_page(panels: Mapping[str, str], lang: Lang, base: str) -> str:
    """The whole simulator page: two phones, the card between them, the operator panel."""
    other = Lang.EN if lang is Lang.JA else Lang.JA
    guide = "".join(
        f"<p>{_t(g, lang)}</p>" for g in ("guide_intro", "guide_intro_steps", "guide_wifi")
    )
    b = escape(base)
    return f"""<!doctype html>
<html lang="{lang.value}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(chrome("title", lang))}</title>
{FAVICON_LINK}
<link rel="stylesheet" href="{b}/static/simulator.css">
<script src="{b}/static/simulator.js" defer></script>
</head>
<body data-sim-base="{b}">
{SANDBOX_BANNER}
<header>
<h1>{_t("guide_service", lang)} — {_t("guide_heading", lang)}</h1>
{guide}
<a href="{b}/?lang={other.value}" data-testid="lang-switch">{escape(chrome("lang", lang))}</a>
</header>
<main class="stage">
<section class="device" data-panel="old" data-testid="phone-old">{panels["old"]}</section>
<section class="cardzone">
<div class="card" draggable="true" data-testid="card">{escape(chrome("card", lang))}</div>
<p class="hint">{escape(chrome("card_hint", lang))}</p>
<button type="button" data-action="tap-card" data-phone="old" data-testid="tap-card-old">
{escape(chrome("tap_old", lang))}</button>
<button type="button" data-action="tap-card" data-phone="new" data-testid="tap-card-new">
{escape(chrome("tap_new", lang))}</button>
</section>
<section class="device" data-panel="new" data-testid="phone-new">{panels["new"]}</section>
<aside class="operator" data-panel="operator" data-testid="operator">{panels["operator"]}</aside>
</main>
</body>
</html>
"""
