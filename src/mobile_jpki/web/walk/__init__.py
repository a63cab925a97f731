# ruff: noqa: RUF002 - Japanese captions and the document's step ranges use
# full-width punctuation and en dashes on purpose
"""Every screen of the phone simulator, walked in headless Chromium (issue 17 "Wanted" 9).

One walk serves two masters: ``scripts/screenshots`` saves a PNG of every screen in Japanese and
English and writes ``docs/screens.md`` from :data:`CATALOGUE`; ``tests/web/test_screen_walk.py``
walks the same screens without saving and fails on what a person must never meet (a console or
page error, a failed request, a Content-Security-Policy violation, an untranslated code).

Where the screens come from (both as a user meets them, through the browser):

- ``mobile-jpki serve --simulator`` on a fresh sandbox data directory (:func:`serve_portal`):
  the real portal, CA, OCSP and push. The model change ①–⑬, the side paths, the old phone's
  notices within and after 48 hours (the operator panel moves the sandbox's clock).
- The in-memory FakeWorld (:func:`serve_fake`), for the notices after a card replacement: no
  simulator button makes one; the walk calls ``FakeWorld.replace_card``, which does what the
  portal's ``replace_card`` does.

Needs Playwright for Python (the ``dev`` extra) and Debian's ``/usr/bin/chromium``; the browser
is never downloaded (``executable_path``).

Two runs write byte-identical pictures (compare with ``cmp``): each picture is taken with the
page's 1-second poll held and the page settled (:meth:`Walker.held`, Playwright's clock), the
certificates name the documented base URL rather than the run's port, Chromium rasters the
same way each time (:data:`CHROMIUM_ARGS`), and no pictured screen shows a time (the operator
panel's clock, which does, is not pictured).

The package, by what each module owns: ``catalogue`` (the shots), ``checks`` (what must never
reach a screen, the page monitor), ``drive`` (one page through the simulator), ``servers`` (the
portal, the FakeWorld server, Chromium), ``run`` (the whole walk), ``markdown`` (the page).
"""

from __future__ import annotations

from mobile_jpki.web.walk.catalogue import (
    CATALOGUE,
    FLOW,
    FRONT,
    LANGS,
    OLD_PHONE,
    SHOTS,
    SIDE,
    Shot,
)
from mobile_jpki.web.walk.checks import EXPECTED_CSP, Monitor, untranslated
from mobile_jpki.web.walk.drive import Walker, walk_fake, walk_portal
from mobile_jpki.web.walk.markdown import render_markdown, total_size
from mobile_jpki.web.walk.run import VIEWPORT, WalkReport, missing_shots, walk_all
from mobile_jpki.web.walk.servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FakeServer,
    chromium,
    free_port,
    serve_fake,
    serve_portal,
)

__all__ = [
    "CATALOGUE",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "EXPECTED_CSP",
    "FLOW",
    "FRONT",
    "LANGS",
    "OLD_PHONE",
    "SHOTS",
    "SIDE",
    "VIEWPORT",
    "FakeServer",
    "Monitor",
    "Shot",
    "WalkReport",
    "Walker",
    "chromium",
    "free_port",
    "missing_shots",
    "render_markdown",
    "serve_fake",
    "serve_portal",
    "total_size",
    "untranslated",
    "walk_all",
    "walk_fake",
    "walk_portal",
]
