"""The servers the walk drives and the browser it drives them with: ``serve --simulator`` as a
subprocess (:func:`serve_portal`), the stand-alone simulator on the FakeWorld in this process
(:func:`serve_fake`), and Debian's headless Chromium (:func:`chromium`)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mobile_jpki.phone.app.fake import FakeWorld
from mobile_jpki.web.simulator import SimulatorWorld, fake_world_factory

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from mobile_jpki.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The same pixels on every run (the pictures in docs/ are compared byte for byte): the
    # edges of rounded boxes were anti-aliased one way or another depending on which part of
    # the page a poll had repainted last (partial raster) and on the compositor's timing.
    "--disable-partial-raster",
    "--run-all-compositor-stages-before-draw",
    "--disable-threaded-animation",
    "--disable-threaded-scrolling",
    "--disable-checker-imaging",
    "--force-color-profile=srgb",
    "--disable-lcd-text",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"serve did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


@contextmanager
def serve_portal(
    root: Path,
    *,
    own_base_url: bool = False,
    prepare: Callable[[Settings], object] | None = None,
) -> Iterator[str]:
    """``mobile-jpki serve --simulator`` (a subprocess, as a user runs it) on a sandbox data
    directory (``ca init --sandbox``: its clock can be moved) initialised under ``root``, on a
    free 127.0.0.1 port; yields its base URL.

    ``own_base_url``: the data directory's base URL is this run's address (what a relying
    party's browser and client reach: the デジタル認証アプリ twin's issuer), not the documented
    default; ``prepare`` runs on the data directory before ``serve`` starts (e.g. registering
    a relying party)."""
    from mobile_jpki.service.ca.bootstrap import init_data_dir

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # By default the certificates (and the front door) name the documented default base
    # (http://127.0.0.1:8000), not this run's port: the simulator talks to the portal in
    # process, and the pictures stay the same from run to run.
    settings, _ = init_data_dir(
        root / "data", dt.datetime.now(dt.UTC), sandbox=True,
        base_url=url if own_base_url else None,
    )  # fmt: skip
    if prepare is not None:
        prepare(settings)
    log = root / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILE_JPKI_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter, this package
            [sys.executable, "-m", "mobile_jpki", "serve", "--data-dir", str(settings.data_dir),
             "--host", "127.0.0.1", "--port", str(port), "--simulator",
             # a new session world per case and language: more than a person makes a minute
             "--simulator-per-client", "60", "--simulator-per-minute", "60"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class FakeServer:
    url: str
    worlds: list[FakeWorld]


@contextmanager
def serve_fake() -> Iterator[FakeServer]:
    """The stand-alone simulator on the in-memory FakeWorld, in this process (so the walk can
    stage what no button makes), on a free 127.0.0.1 port."""
    import uvicorn

    from mobile_jpki.web.sandbox import SimulatorLimits
    from mobile_jpki.web.simulator import create_simulator_app

    worlds: list[FakeWorld] = []

    def factory() -> SimulatorWorld:
        made = fake_world_factory()
        worlds.append(made.old.world)  # type: ignore[attr-defined]
        return made

    port = free_port()
    limits = SimulatorLimits(per_client_per_minute=60, per_minute=60)
    app = create_simulator_app(factory, limits=limits)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield FakeServer(f"http://127.0.0.1:{port}", worlds)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    # The sync API runs its own event loop; stop it explicitly so the driver's pipes are
    # closed before anyone checks for ResourceWarnings.
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
