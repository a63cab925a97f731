"""The simulator's デジタル認証アプリ over HTTP (no browser): on the FakeWorld, the link
parameter, the pasted URL and escaping; on the real portal (the twin mounted beside the
simulator, as ``serve --simulator`` does), the card instead of the phone and the service's
refusals (a suspended certificate, an expired request) as screens of their own."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from sim_helpers import LiveServer
from test_web_portal_world import Live, _serve, info, screen_of

from mobile_jpki.clock import FixedClock
from mobile_jpki.runtime import open_system
from mobile_jpki.service.authapp.clients import generate_private_jwk, public_jwks
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.web import authapp_step
from mobile_jpki.web.sandbox import SimulatorLimits

URL = "http://127.0.0.1:8000/api/realms/main/device-approvals/r1"
NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


def ev(client: httpx.Client, phone: str, type_: str, name: str = "", **fields: str) -> str:
    r = client.post(
        "/simulator/event",
        json={"phone": phone, "type": type_, "name": name, "fields": fields},
    )
    assert r.status_code == 200, r.text
    panel: str = r.json()["panels"][phone]
    return panel


def panel_of(page: str, phone: str) -> str:
    start = page.index(f'data-testid="phone-{phone}"')
    return page[start : page.index("</section>", start)]


# --- the FakeWorld ----------------------------------------------------------------------------


def test_the_link_parameter_opens_the_request_once_on_the_phone_holding_certificates(
    live_server: LiveServer,
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        client.get("/simulator/")
        (world,) = live_server.factory.worlds
        made = world.add_auth_request(URL, client_name="<b>Shop</b>", scopes=("openid", "name"))
        answer = client.get(f"/simulator/?authapp={quote(URL, safe='')}")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/simulator/"
        page = client.get("/simulator/").text
        old = panel_of(page, "old")  # the FakeWorld's old phone holds the certificates
        assert screen_of(old) == "authapp-consent"
        assert "&lt;b&gt;Shop&lt;/b&gt;が次の情報を求めています。" in old
        assert "<b>Shop</b>" not in page
        assert "氏名" in old
        assert screen_of(panel_of(page, "new")) == "home"
        # a reload does not open the request again
        assert screen_of(ev(client, "old", "press", "authapp_agree")) == "authapp-pin"
        assert screen_of(panel_of(client.get("/simulator/").text, "old")) == "authapp-pin"
        ev(client, "old", "press", "next", auth_pin="5678")
        panel = ev(client, "old", "press", "next", sign_password="old123")
        assert screen_of(panel) == "authapp-done"
        assert made.answer == "approved"


def test_a_pasted_url_is_kept_whole_and_a_foreign_one_is_refused(
    live_server: LiveServer,
) -> None:
    long_url = URL + "?" + "x" * 300
    with httpx.Client(base_url=live_server.url) as client:
        client.get("/simulator/")
        (world,) = live_server.factory.worlds
        world.add_auth_request(long_url)
        panel = ev(client, "new", "press", "authapp")
        assert screen_of(panel) == "authapp-open"
        assert 'type="url"' in panel and 'data-testid="input-new-authapp_url"' in panel
        panel = ev(client, "new", "press", "authapp_open", authapp_url=long_url)
        assert screen_of(panel) == "authapp-consent"  # not cut at a password's 64 characters


def test_the_web_step_links_the_simulator_only_when_it_is_served() -> None:
    approval = "http://127.0.0.1:8000/api/realms/main/device-approvals/abc"
    common = {
        "request_id": "abc",
        "client_name": "RP",
        "scopes": ["openid"],
        "approval_url": approval,
        "status": "pending",
        "base": "/api/realms/main",
    }
    with_sim = authapp_step.render_step(**common, simulator=True)  # type: ignore[arg-type]
    link = re.search(r'data-testid="simulator-link"[^>]* href="([^"]+)"', with_sim)
    assert link is not None
    assert link.group(1) == f"/simulator/?authapp={quote(approval, safe='')}"
    assert 'target="_blank"' in with_sim
    assert "simulator-link" not in authapp_step.render_step(**common)  # type: ignore[arg-type]


# --- the real portal, with the twin -----------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    settings, _ = init_data_dir(tmp_path / "data", NOW)
    system = open_system(settings, FixedClock(NOW), simulator=SimulatorLimits())
    try:
        for url in _serve(system.app):
            yield Live(url, system)
    finally:
        system.close()


def request_url(live: Live, scope: str) -> str:
    """A relying party's request, started as its browser would; the web step's approval URL."""
    system = live.system
    client = system.app.state.authapp.clients.register(
        name="Example RP", redirect_uris=["http://127.0.0.1:9/cb"],
        jwks=public_jwks(generate_private_jwk()), now=system.clock.now(),
    )  # fmt: skip
    query = urlencode({
        "response_type": "code", "scope": scope, "client_id": client.client_id,
        "redirect_uri": "http://127.0.0.1:9/cb", "state": "st", "nonce": "nn",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSZw-cM",
        "code_challenge_method": "S256",
    })  # fmt: skip
    with system.client() as http:
        started = http.get(
            f"/api/realms/main/protocol/openid-connect/auth?{query}",
            headers={"Accept": "application/json"},
        )
    assert started.status_code == 200, started.text
    approval: str = started.json()["approval_url"]
    return approval


def state_of(live: Live, approval_url: str) -> int:
    with live.system.client() as http:
        return http.get(approval_url, headers={"Accept": "application/json"}).status_code


def test_the_card_answers_on_a_phone_without_certificates(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=60, follow_redirects=True) as client:
        page = client.get("/simulator/").text
        approval = request_url(live, "openid name address")
        page = client.get(f"/simulator/?authapp={quote(approval, safe='')}&phone=new").text
        assert screen_of(panel_of(page, "new")) == "authapp-consent"
        ev(client, "new", "press", "authapp_agree")
        panel = ev(client, "new", "press", "authapp_use_card")
        assert "マイナンバーカードの利用者証明用電子証明書の暗証番号" in panel
        ev(client, "new", "press", "next", auth_pin=info(page, "card_auth_pin"))
        password = info(page, "card_sign_password")
        assert screen_of(ev(client, "new", "press", "next", sign_password=password)) == (
            "card-read"
        )
        assert state_of(live, approval) == 200  # nothing answered before the card is held
        assert screen_of(ev(client, "new", "tap-card")) == "authapp-done"
    assert state_of(live, approval) == 409  # request_finished: the twin took the answer


def test_a_suspended_certificate_and_an_expired_request_are_refusals(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=60, follow_redirects=True) as client:
        page = client.get("/simulator/").text
        pin, password = info(page, "old_phone_auth_pin"), info(page, "old_phone_sign_password")
        # The request expires while the person reads it.
        approval = request_url(live, "openid")
        client.get(f"/simulator/?authapp={quote(approval, safe='')}")
        ev(client, "old", "press", "authapp_agree")
        client.post("/simulator/operator", json={"action": "advance-1h"})
        panel = ev(client, "old", "press", "next", auth_pin=pin)
        assert screen_of(panel) == "authapp-refused"
        assert "有効期限が切れています" in panel
        ev(client, "old", "press", "authapp_close")
        # The hotline suspends every certificate: the twin refuses them (access_denied).
        client.post("/simulator/operator", json={"action": "suspend"})
        approval = request_url(live, "openid name")
        client.get(f"/simulator/?authapp={quote(approval, safe='')}&phone=old")
        ev(client, "old", "press", "authapp_agree")
        ev(client, "old", "press", "next", auth_pin=pin)
        panel = ev(client, "old", "press", "next", sign_password=password)
        assert screen_of(panel) == "authapp-refused", panel
        assert "認証を受け付けませんでした" in panel
        assert secrets.compare_digest(str(state_of(live, approval)), "409")
