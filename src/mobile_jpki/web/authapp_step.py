"""The デジタル認証アプリ twin's web step: the page the relying party's browser lands on after
the authorization request. It says which relying party asks for what, shows a QR code and an
app link for the phone, and follows the app's progress by reloading itself every two seconds
(``<meta http-equiv="refresh">``: no script, so the strict CSP holds); when the app is done
the server answers the reload with the redirect to the relying party."""

from __future__ import annotations

import io
from collections.abc import Sequence
from html import escape
from urllib.parse import quote

import qrcode
import qrcode.image.svg

from mobile_jpki.web.pages import FAVICON_LINK

# What each scope asks the person for, as the app's consent screen words it.
SCOPE_LABELS = {
    "openid": (
        "本人であることの確認 (利用者証明用電子証明書)",
        "proof of identity (user-auth certificate)",
    ),
    "name": ("氏名", "name"),
    "address": ("住所", "address"),
    "birthdate": ("生年月日", "date of birth"),
    "gender": ("性別", "gender"),
    "sign": ("電子署名 (署名用電子証明書)", "electronic signature (signing certificate)"),
}
APP_SCHEME = "mobile-jpki-auth"
SIMULATOR_PREFIX = "/simulator"  # where api/app.py mounts the simulator


def app_link(approval_url: str) -> str:
    """The link that opens the app on this request (the QR code encodes it)."""
    return f"{APP_SCHEME}://authorize?url={quote(approval_url, safe='')}"


def qr_svg(data: str) -> bytes:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def items_html(scopes: Sequence[str]) -> str:
    rows = []
    for scope in scopes:
        ja, en = SCOPE_LABELS.get(scope, (scope, scope))
        rows.append(
            f'<li data-scope="{escape(scope)}">{escape(ja)} <small>{escape(en)}</small></li>'
        )
    return "\n".join(rows)


def simulator_link(approval_url: str, prefix: str = SIMULATOR_PREFIX) -> str:
    """The phone simulator with this request handed to its デジタル認証アプリ (the simulator's
    ``authapp`` parameter, web/simulator.py): the QR code's path for a person without a phone."""
    return f"{prefix}/?authapp={quote(approval_url, safe='')}"


def render_step(
    *,
    request_id: str,
    client_name: str,
    scopes: Sequence[str],
    approval_url: str,
    status: str,
    base: str,
    simulator: bool = False,
) -> str:
    """The page; ``base`` is the realm path (``/api/realms/main``); ``simulator``: the phone
    simulator is served (``serve --simulator``), so the page links it."""
    waiting = status == "pending"
    refresh = '<meta http-equiv="refresh" content="2">' if waiting else ""
    link = app_link(approval_url)
    rid = escape(request_id)
    # A new tab: this page keeps following the request and moves on by itself.
    sim = (
        f'<p><a class="button" data-testid="simulator-link" target="_blank" rel="noopener"'
        f' href="{escape(simulator_link(approval_url))}">'
        "シミュレーターで開く (open in the phone simulator)</a></p>\n"
        if simulator
        else ""
    )
    if waiting:
        qr = f"{escape(base)}/web-step/{rid}/qr.svg"
        body = (
            '<p data-testid="step-status">'
            "スマートフォンの「デジタル認証アプリ」で読み取ってください。\n"
            "<small>Scan with the デジタル認証アプリ on your phone, or approve with\n"
            "<code>mobile-jpki phone authorize</code>.</small></p>\n"
            f'<p><img class="qr" src="{qr}" alt="QR code" width="264" height="264"></p>\n'
            f'<p><a class="button" data-testid="app-link" href="{escape(link)}">'
            "アプリで開く (open in the app)</a></p>\n"
            f"{sim}"
            '<p class="small">この画面は自動で更新されます。 '
            "This page follows the app and moves on by itself.</p>"
        )
    else:
        body = """<p data-testid="step-status">この手続きは終了しました。
<small>This request is finished; go back to the service that sent you here.</small></p>"""
    return f"""<!doctype html>
<html lang="ja">
<head><meta charset="utf-8">{refresh}<title>デジタル認証アプリ — {escape(client_name)}</title>
{FAVICON_LINK}
<link rel="stylesheet" href="/assets/front.css"></head>
<body><main>
<h1>デジタル認証アプリ</h1>
<p data-testid="rp-name"><strong>{escape(client_name)}</strong> が次の情報を求めています
<small>({escape(client_name)} asks for)</small>:</p>
<ul data-testid="items">
{items_html(scopes)}
</ul>
{body}
<p class="small" data-testid="approval-url">{escape(approval_url)}</p>
</main></body>
</html>
"""


def render_error(title: str, message: str) -> str:
    """An authorization request that cannot go back to the relying party (unknown client,
    unregistered redirect URI: RFC 6749 §4.1.2.1 forbids the redirect)."""
    return f"""<!doctype html>
<html lang="ja">
<head><meta charset="utf-8"><title>{escape(title)}</title>
{FAVICON_LINK}
<link rel="stylesheet" href="/assets/front.css"></head>
<body><main><h1>{escape(title)}</h1>
<p data-testid="error">{escape(message)}</p></main></body>
</html>
"""
