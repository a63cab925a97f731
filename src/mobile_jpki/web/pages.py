"""What every HTML page of the server shares: the favicon, the sandbox banner, the page the
simulator answers when it refuses a new session.

No inline script, no ``style=`` attribute, no ``on*=`` handler: the pages are served under a
strict ``Content-Security-Policy: script-src 'self'; style-src 'self'`` (issue 16 §5), so
styles live in static files.
"""

from __future__ import annotations

from html import escape

from mobile_jpki.phone.app.texts_model import Lang

PROBLEM_JSON = "application/problem+json"  # RFC 7807 §6.1

# A My Number Card in 32x32: the blue card, its gold contact chip, two lines of print.
FAVICON_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    b'<rect x="1" y="6" width="30" height="20" rx="3" fill="#1f5fbf"/>'
    b'<rect x="5" y="12" width="8" height="7" rx="1.5" fill="#e8c552"/>'
    b'<rect x="16" y="12" width="11" height="2.5" rx="1" fill="#fff"/>'
    b'<rect x="16" y="17" width="7" height="2.5" rx="1" fill="#fff"/>'
    b"</svg>\n"
)
SVG_TYPE = "image/svg+xml"
FAVICON_LINK = '<link rel="icon" href="/favicon.svg" type="image/svg+xml">'

SANDBOX_TEXT = "サンドボックス — テスト用の模擬環境です / Sandbox: test data only"
# Both languages at once on purpose: whichever language the page is in, the warning is read.
SANDBOX_BANNER = (
    f'<p class="sandbox" role="note" data-testid="sandbox-banner">{escape(SANDBOX_TEXT)}</p>'
)


def notice_page(title: str, message: str, testid: str, links: str, lang: Lang, base: str) -> str:
    """A simulator page that only says something went wrong, and how to go on (``links``:
    HTML already escaped)."""
    b = escape(base)
    return f"""<!doctype html>
<html lang="{lang.value}">
<head><meta charset="utf-8"><title>{escape(title)}</title>
{FAVICON_LINK}
<link rel="stylesheet" href="{b}/static/simulator.css"></head>
<body>{SANDBOX_BANNER}<main><h1>{escape(title)}</h1>
<p class="message" data-testid="{testid}">{escape(message)}</p>
<p>{links}</p></main></body>
</html>
"""


def render_refused(why: str, lang: Lang, base: str) -> str:
    """The simulator's 429 page: no new session now, and why (``why`` is one line, English,
    from :class:`~mobile_jpki.web.sandbox.SessionRefused`)."""
    title = (
        "現在、新しいシミュレーターを開始できません"
        if lang is Lang.JA
        else "No new simulator session just now"
    )
    retry = "しばらくしてから再読み込みしてください" if lang is Lang.JA else "Reload a little later"
    links = f'<a href="{escape(base)}/">{escape(retry)}</a> · <a href="/">mobile-jpki</a>'
    return notice_page(title, why, "refused", links, lang, base)
