"""The whole walk: the front door, then every screen of the catalogue in every language, on the
real portal and on the FakeWorld (:func:`walk_all`), and what it did not reach."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.web.walk.catalogue import CATALOGUE, FRONT, LANGS
from mobile_jpki.web.walk.checks import Monitor, untranslated
from mobile_jpki.web.walk.drive import SCREENSHOT_OPTIONS, Walker, walk_fake, walk_portal
from mobile_jpki.web.walk.servers import FakeServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# The simulator page is laid out for a desktop (two phones, the card, the operator panel); the
# pictures are of one phone's panel (its frame, network switch and guide), at 1 px per CSS px.
VIEWPORT = {"width": 1280, "height": 900}


@dataclass
class WalkReport:
    taken: dict[Lang, list[str]]
    problems: list[str]
    seconds: float
    files: list[Path]


@contextmanager
def _page(browser: Browser, monitor: Monitor, where: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]
        device_scale_factor=1,
        locale="ja-JP",
    )
    context.set_default_timeout(30_000)  # real RSA keys, real issuance jobs
    page = context.new_page()
    monitor.attach(page, where)
    try:
        yield page
    finally:
        monitor.active = False  # closing aborts the page's polling: not a problem
        context.close()
        monitor.active = True


def walk_all(
    browser: Browser,
    portal_url: str,
    fake: FakeServer,
    out: Path | None = None,
    langs: Sequence[Lang] = LANGS,
) -> WalkReport:
    """Every screen of :data:`CATALOGUE` in every language, plus the front door."""
    started = time.monotonic()
    monitor = Monitor(csp_required_from=portal_url)
    taken: dict[Lang, list[str]] = {}
    files: list[Path] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with _page(browser, monitor, "front door") as page:
        page.goto(f"{portal_url}/")
        page.get_by_test_id("link-simulator").wait_for()
        shown = page.locator("body").inner_text()
        for problem in untranslated(shown, Lang.JA, phone_screen=False):
            monitor.add("front door", problem)
        if out is not None:
            path = out / "00-front-door.png"
            page.mouse.move(0, 0)
            page.screenshot(path=str(path), full_page=True, **SCREENSHOT_OPTIONS)
            files.append(path)
    for lang in langs:
        names: list[str] = []
        with _page(browser, monitor, f"portal {lang.value}") as page:
            w = Walker(page, lang, out, monitor)
            walk_portal(w, portal_url)
            names += w.taken
        with _page(browser, monitor, f"fake {lang.value}") as page:
            w = Walker(page, lang, out, monitor)
            walk_fake(w, fake.url, fake.worlds)
            names += w.taken
        taken[lang] = names
        if out is not None:
            files += [out / f"{n}-{lang.value}.png" for n in names]
    return WalkReport(taken, monitor.problems, time.monotonic() - started, files)


def missing_shots(report: WalkReport) -> list[str]:
    """Catalogue entries a language's walk did not reach."""
    wanted = [s.name for s in CATALOGUE if s.group != FRONT]
    return [
        f"{lang.value}:{n}" for lang, got in report.taken.items() for n in wanted if n not in got
    ]
