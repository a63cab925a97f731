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
from mobile_jpki.web.sandbox import SimulatorLimits
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
    system = open_system(settings, FixedClock(NOW), simulator=SimulatorLimits())
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


# --- the sandbox: opt-in, and what an ended session leaves --------------------------------


def _footprint(system: System) -> tuple[dict[str, int], set[str]]:
    """Rows that a session would add, and the data directory's files."""
    from sqlalchemy import func

    from mobile_jpki.store.portal import ApiKey, Card, Device, Person

    with system.ca.db.transaction(write=False) as s:
        rows = {
            m.__name__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Person, Card, Device, ApiKey, Certificate)
        }
    data = system.settings.data_dir
    files = {
        str(p.relative_to(data))
        for p in data.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal"))
    }
    return rows, files


def test_a_plain_app_has_no_simulator_and_a_visit_changes_nothing(tmp_path: object) -> None:
    from pathlib import Path

    settings, _ = init_data_dir(Path(str(tmp_path)) / "data", NOW)
    system = open_system(settings, FixedClock(NOW))  # what a plain `serve` builds
    try:
        before = _footprint(system)
        for url in _serve(system.app):
            with httpx.Client(base_url=url) as client:
                for path in ("/simulator/", "/simulator", "/simulator/static/simulator.js"):
                    assert client.get(path).status_code == 404, path
                for path in ("/simulator/poll", "/simulator/operator", "/simulator/event"):
                    assert client.post(path, json={}).status_code == 404, path
                assert 'href="/simulator/"' not in client.get("/").text
        assert _footprint(system) == before
    finally:
        system.close()


def _ocsp_status(client: httpx.Client, system: System, row: Certificate) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from mobile_jpki.pki.model import CertKind

    cert = x509.load_der_x509_certificate(row.der)
    issuer = system.ca.identity(row.ca_id).certificate
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    r = client.post(
        f"/ocsp/{CertKind(row.kind).hierarchy.value}",
        content=req.public_bytes(serialization.Encoding.DER),
        headers={"Content-Type": "application/ocsp-request"},
    )
    answer = ocsp.load_der_ocsp_response(r.content)
    reason = answer.revocation_reason
    return answer.certificate_status.name, reason.name if reason else ""


def test_an_expired_session_is_revoked_and_removed(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from mobile_jpki.store.portal import ApiKey, Device

    caplog.set_level(logging.DEBUG)
    sessions = live.system.app.state.simulator_sessions
    with httpx.Client(base_url=live.url, timeout=60) as client:
        page = client.get("/simulator/").text
        assert 'data-testid="sandbox-banner"' in page and "Sandbox: test data only" in page
        person, short = info(page, "person"), info(page, "card").removesuffix("-card")
        secrets = [info(page, k) for k in ("card_sign_password", "old_phone_sign_password")]
        devices = live.system.settings.data_dir / "devices"
        files = [
            devices / "cards" / f"{short}-card.state",
            devices / "phones" / f"{short}-old.state",
            devices / "phones" / f"{short}-new.state",
        ]
        assert all(f.is_file() for f in files)
        with live.system.ca.db.transaction(write=False) as s:
            keys = s.scalars(select(ApiKey)).all()
            assert [(k.role, k.revoked_at) for k in keys] == [("office", None)]  # its own
            key_id = keys[0].id

        # 31 minutes without a request: the sweeper ends it.
        sessions.monotonic = lambda: time.monotonic() + 31 * 60
        assert sessions.sweep() == 1
        assert client.post("/simulator/poll").status_code == 409

        with live.system.ca.db.transaction(write=False) as s:
            certs = s.scalars(select(Certificate).where(Certificate.person_id == person)).all()
            holders = s.scalars(select(Device).where(Device.holder.is_(True))).all()
            for row in certs:
                s.expunge(row)
        kinds = sorted(c.kind for c in certs)
        assert kinds == ["card-auth", "card-sign", "phone-auth", "phone-sign"], kinds
        for row in certs:
            assert (row.status, row.reason) == ("revoked", Reason.CESSATION_OF_OPERATION.value)
            # ... and a relying party hears so from this server's OCSP responder.
            assert _ocsp_status(client, live.system, row) == ("REVOKED", "cessation_of_operation")
        assert holders == []
        assert not any(f.exists() for f in files)
        with live.system.ca.db.transaction(write=False) as s:
            key = s.get(ApiKey, key_id)
            assert key is not None and key.revoked_at is not None  # its office key revoked
    assert "simulator session closed: 4 certificates revoked" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text  # test passwords are for the page, never the log
