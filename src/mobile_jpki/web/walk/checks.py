"""What must never reach a screen, and what watches the page for it: :func:`untranslated`
(codes, text ids, placeholders, the other language), :class:`Monitor` (console and page errors,
failed requests, Content-Security-Policy violations) and the policy the walk holds pages to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mobile_jpki.phone.app.messages import ERROR_MESSAGES
from mobile_jpki.phone.app.screens import DialogId, MessageCode, ScreenId
from mobile_jpki.phone.app.texts import TEXTS
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.web.render import CHROME

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Request, Route
    from playwright.sync_api import Response as PwResponse

# The policy every page must live under (issue 16 §5; api/headers.py sends it from `serve`).
# The stand-alone simulator app (no api middleware) gets it added by the walk, so its pages
# are held to the same rule (W3C CSP Level 3); pages from `serve` must carry their own.
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


_HYPHEN_CODES = frozenset(
    code
    for code in (
        *ERROR_MESSAGES,
        *(m.value for m in MessageCode),
        *(s.value for s in ScreenId),
        *(d.value for d in DialogId),
        "internal-error",
    )
    if "-" in code
)
_CODE = re.compile(
    r"(?<![\w-])("
    + "|".join(sorted(map(re.escape, _HYPHEN_CODES), key=len, reverse=True))
    + r")(?![\w-])"
)
_SNAKE = re.compile(r"(?<![\w/.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-])")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def _ascii_words(values: Sequence[str]) -> frozenset[str]:
    return frozenset(w for v in values for w in _ASCII_WORD.findall(v))


# Words the Japanese screens may print in Latin letters: those of the Japanese texts themselves
# (OK, WiFi, IP, the document's own English hotline lines), the simulator's chrome, and the
# label of the NFC spot. Anything else on a Japanese phone screen is an English text leaking.
_JA_ASCII_OK = _ascii_words([t.ja for t in TEXTS.values()] + [ja for ja, _ in CHROME.values()])
_JA_ASCII_OK |= {"NFC"}
# Japanese characters an English screen may print: those its English texts contain.
_EN_KANA_OK = frozenset(
    c
    for v in [t.en for t in TEXTS.values()] + [en for _, en in CHROME.values()]
    for c in _JAPANESE.findall(v)
)


def untranslated(shown: str, lang: Lang, *, phone_screen: bool = True) -> list[str]:
    """What in ``shown`` (a page's visible text) is a code or text id rather than a text, or is
    in the other language. ``phone_screen``: ``shown`` is a phone's panel, so the language
    check applies (the operator panel shows test data such as passwords)."""
    found = [f"code {m!r}" for m in _CODE.findall(shown)]
    found += [f"text id {m!r}" for m in _SNAKE.findall(shown)]
    found += [f"placeholder {m!r}" for m in _PLACEHOLDER.findall(shown)]
    if phone_screen and lang is Lang.JA:
        found += [
            f"English word {w!r} on a Japanese screen"
            for w in sorted(set(_ASCII_WORD.findall(shown)) - _JA_ASCII_OK)
        ]
    if phone_screen and lang is Lang.EN:
        stray = sorted(set(_JAPANESE.findall(shown)) - _EN_KANA_OK)
        if stray:
            found.append(f"Japanese on an English screen: {''.join(stray)!r}")
    return found


@dataclass
class Monitor:
    """Everything that went wrong in a browser context, as one line each."""

    problems: list[str] = field(default_factory=list)
    active: bool = True
    # Pages under this address must come with the server's own Content-Security-Policy.
    csp_required_from: str | None = None

    def add(self, where: str, what: str) -> None:
        if self.active:
            self.problems.append(f"{where}: {what}")

    def attach(self, page: Page, where: str, *, inject_csp: bool = True) -> None:
        """Watch ``page``. ``inject_csp``: documents that come without a policy get
        :data:`EXPECTED_CSP` (by fetching them in a route, which follows redirects for the
        page: a page that must see a server's redirect, such as an OAuth flow's, goes
        without; ``csp_required_from`` still checks the server's own policy)."""

        def console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                self.add(where, f"console error: {msg.text}")

        def response(resp: PwResponse) -> None:
            if resp.status >= 400:
                self.add(where, f"HTTP {resp.status} {resp.request.method} {resp.url}")
            if (
                self.csp_required_from is not None
                and resp.request.resource_type == "document"
                and not 300 <= resp.status < 400  # a redirect shows nothing to protect
                and resp.url.startswith(self.csp_required_from)
                and (
                    "content-security-policy" not in resp.headers
                    or _INJECTED in resp.headers  # the walk's own, not the server's
                )
            ):
                self.add(where, f"no Content-Security-Policy on {resp.url}")

        def failed(req: Request) -> None:
            self.add(where, f"request failed: {req.method} {req.url} ({req.failure})")

        def csp(violation: str) -> None:
            self.add(where, f"CSP violation: {violation}")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.add(where, f"page error: {exc}"))
        page.on("response", response)
        page.on("requestfailed", failed)
        # Reported from the page the moment it happens (an init script runs outside the
        # page's CSP, and a binding is not a network request).
        page.expose_function("__mjpkiCsp", csp)
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " window.__mjpkiCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}"
            " at ${e.sourceFile}:${e.lineNumber}`));"
        )
        if inject_csp:
            page.route("**/*", _with_csp)


_INJECTED = "x-walk-added-csp"


def _with_csp(route: Route) -> None:
    """Serve every HTML document under :data:`EXPECTED_CSP` when the server sends none."""
    if route.request.resource_type != "document":
        route.continue_()
        return
    response = route.fetch()
    headers = dict(response.headers)
    if not any(k.lower() == "content-security-policy" for k in headers):
        headers["content-security-policy"] = EXPECTED_CSP
        headers[_INJECTED] = "1"
    route.fulfill(response=response, headers=headers)
