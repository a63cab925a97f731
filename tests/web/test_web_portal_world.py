"""The simulator on the real portal of a data directory, over HTTP without a browser.

``runtime.open_system`` on a data directory fresh from ``ca init``'s library call, served by
uvicorn in a thread (lifespan on, so the simulator's in-process client is closed). The worker
loop is not running here: the test runs its passes (``work_once``) where ``serve`` would.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.runtime import System, open_system
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.store.models import Certificate
from mobile_jpki.web.portal_world import SimulatorSetupError
from mobile_jpki.web.simulator import create_simulator_app

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


@dataclass
class Live:
    url: str
    system: System


def _serve(app: object) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live(tmp_path: object) -> Iterator[Live]:
    from pathlib import Path

    settings, _ = init_data_dir(Path(str(tmp_path)) / "data", NOW)
    system = open_system(settings, FixedClock(NOW))
    try:
        for url in _serve(system.app):
            yield Live(url, system)
    finally:
        system.close()


def ev(client: httpx.Client, phone: str, type_: str, name: str = "", **fields: str) -> str:
    r = client.post(
        "/simulator/event",
        json={"phone": phone, "type": type_, "name": name, "fields": fields},
    )
    assert r.status_code == 200, r.text
    panel: str = r.json()["panels"][phone]
    return panel


def screen_of(panel: str) -> str:
    m = re.search(r'data-screen="([a-z-]+)"', panel)
    assert m
    return m.group(1)


def info(page: str, key: str) -> str:
    m = re.search(rf'data-testid="info-{key}"><code>([^<]+)</code>', page)
    assert m, key
    return m.group(1)


def statuses(system: System) -> dict[str, list[tuple[str, int | None]]]:
    """Phone certificates by portal device: (status, reason)."""
    with system.ca.db.transaction(write=False) as s:
        rows = s.scalars(
            select(Certificate)
            .where(Certificate.device_id.is_not(None))
            .order_by(Certificate.issued_at, Certificate.serial)
        ).all()
        out: dict[str, list[tuple[str, int | None]]] = {}
        for row in rows:
            out.setdefault(row.device_id or "", []).append((row.status, row.reason))
    return out


def test_session_world_and_model_change_through_the_portal(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        page = client.get("/simulator/").text
        card_password = info(page, "card_sign_password")
        short = info(page, "card").removesuffix("-card")
        data = live.system.settings.data_dir / "devices"
        assert (data / "cards" / f"{short}-card.state").is_file()
        assert (data / "phones" / f"{short}-old.state").is_file()
        assert (data / "phones" / f"{short}-new.state").is_file()
        assert 'data-testid="network-old" data-online="false"' in page
        assert 'data-testid="operator-advance-48h"' in page  # a FixedClock can move
        ((old_id, old_device),) = statuses(live.system).items()
        assert old_device == [("good", None), ("good", None)]  # registered at session start

        ev(client, "new", "press", "my_page")
        ev(client, "new", "press", "model_change")
        ev(client, "new", "toggle", "confirmed", card_sign_password=card_password.lower())
        assert screen_of(ev(client, "new", "press", "apply")) == "card-read"
        panel = ev(client, "new", "tap-card")
        assert 'data-dialog="revoke-old"' in panel, panel
        assert screen_of(ev(client, "new", "press", "agree_next")) == "new-password"
        ev(client, "new", "press", "next", new_password="NEW123", new_password_again="NEW123")
        panel = ev(client, "new", "press", "next", new_password="2468", new_password_again="2468")
        assert screen_of(panel) == "apply-done", panel
        live.system.context.work_once()  # serve's worker: issuance, then the push
        panel = client.post("/simulator/poll").json()["panels"]["new"]
        assert 'data-testid="banner-new"' in panel
        ev(client, "new", "tap-banner")
        ev(client, "new", "press", "register")
        assert screen_of(ev(client, "new", "press", "register")) == "register-done"

        # Offline, the old phone has heard nothing; its certificates are already revoked.
        assert screen_of(client.post("/simulator/poll").json()["panels"]["old"]) == "home"
        panel = ev(client, "old", "network")
        assert screen_of(panel) == "old-phone-notice", panel
        assert "削除されました" in panel
        superseded = Reason.SUPERSEDED.value
        now = statuses(live.system)  # (a FixedClock: issuance order says nothing here)
        assert now.pop(old_id) == [("revoked", superseded)] * 2
        assert list(now.values()) == [[("good", None)] * 2]


def test_operator_panel_uses_the_operator_api(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        client.get("/simulator/")
        r = client.post("/simulator/operator", json={"action": "suspend"})
        assert 'data-testid="operator-error"' not in r.json()["panels"]["operator"]
        (device,) = statuses(live.system).values()
        assert [status for status, _ in device] == ["held", "held"]  # certificateHold
        ev(client, "old", "press", "my_page")
        assert "一時利用停止中" in client.post("/simulator/poll").json()["panels"]["old"]
        client.post("/simulator/operator", json={"action": "change-of-address"})
        (device,) = statuses(live.system).values()
        # 異動 revokes the signing certificate (affiliationChanged); user-auth survives it.
        assert ("revoked", Reason.AFFILIATION_CHANGED.value) in device


def test_a_failed_setup_is_a_page_that_says_why() -> None:
    def broken() -> object:
        raise SimulatorSetupError("PortalProblem: 422 attestation-invalid: no manufacturer")

    for url in _serve(create_simulator_app(broken)):  # type: ignore[arg-type]
        r = httpx.get(f"{url}/simulator/")
        assert r.status_code == 503
        assert 'data-testid="setup-error"' in r.text
        assert "attestation-invalid" in r.text
