"""The simulator's HTTP edge without a browser (httpx over TCP to uvicorn): pages, events,
sessions, escaping. (Starlette's TestClient is deprecated with httpx, and warnings are errors.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sim_helpers import LiveServer, RecordingFactory

from mobile_jpki.phone.app.backend import AppCertStatus


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url) as client:
        assert client.get("/simulator/").status_code == 200
        yield client


def ev(
    client: httpx.Client,
    phone: str,
    type_: str,
    name: str = "",
    fields: dict[str, str] | None = None,
) -> dict[str, str]:
    r = client.post(
        "/simulator/event",
        json={"phone": phone, "type": type_, "name": name, "fields": fields or {}},
    )
    assert r.status_code == 200, r.text
    panels: dict[str, str] = r.json()["panels"]
    return panels


def screen_of(panel: str) -> str:
    m = re.search(r'data-screen="([a-z-]+)"', panel)
    assert m
    return m.group(1)


def test_page_has_two_phones_a_card_and_the_operator(client: httpx.Client) -> None:
    html = client.get("/simulator/").text
    for testid in (
        "phone-old",
        "phone-new",
        "card",
        "tap-card-old",
        "tap-card-new",
        "operator",
        "operator-suspend",
        "button-new-my_page",
        "lang-switch",
    ):
        assert f'data-testid="{testid}"' in html
    assert "マイナポータル" in html and "①マイナポータルアプリを開き" in html


def test_assets_are_served_from_the_package(client: httpx.Client) -> None:
    js = client.get("/simulator/static/simulator.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert (
        client.get("/simulator/static/simulator.css").headers["content-type"].startswith("text/css")
    )
    assert client.get("/simulator/static/..%2fsimulator.py").status_code == 404
    assert client.get("/simulator/static/render.py").status_code == 404


def test_events_drive_the_app_and_typed_values_travel_with_them(
    client: httpx.Client, factory: RecordingFactory
) -> None:
    assert screen_of(ev(client, "new", "press", "my_page")["new"]) == "my-page"
    assert screen_of(ev(client, "new", "press", "model_change")["new"]) == "apply-form"
    ev(client, "new", "toggle", "confirmed", {"card_sign_password": "abc123"})
    panels = ev(client, "new", "press", "apply", {"card_sign_password": "abc123"})
    assert screen_of(panels["new"]) == "card-read"
    panels = ev(client, "new", "tap-card")
    assert 'data-testid="dialog-new"' in panels["new"]
    panels = ev(client, "new", "press", "quit")
    assert screen_of(panels["new"]) == "my-page"
    world = factory.worlds[0]
    assert world.mutating_calls() == []
    assert set(world.devices["old-phone"].status.values()) == {AppCertStatus.REGISTERED}


def test_typed_markup_is_escaped(client: httpx.Client) -> None:
    ev(client, "new", "press", "my_page")
    ev(client, "new", "press", "model_change")
    panels = ev(
        client, "new", "toggle", "confirmed", {"card_sign_password": '"><script>alert(1)</script>'}
    )
    assert "<script>" not in panels["new"]
    assert "&lt;SCRIPT&gt;" in panels["new"]


def test_sessions_are_separate(live_server: LiveServer, factory: RecordingFactory) -> None:
    a = httpx.Client(base_url=live_server.url)
    b = httpx.Client(base_url=live_server.url)
    a.get("/simulator/")
    b.get("/simulator/")
    ev(a, "new", "press", "my_page")
    r = b.post("/simulator/poll")
    assert screen_of(r.json()["panels"]["new"]) == "home"
    assert len(factory.worlds) == 2
    a.close()
    b.close()


def test_unknown_session_is_told_to_reload(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        assert client.post("/simulator/poll").status_code == 409


def test_operator_suspends_and_moves_time(client: httpx.Client, factory: RecordingFactory) -> None:
    r = client.post("/simulator/operator", json={"action": "suspend"})
    assert r.status_code == 200
    ev(client, "old", "press", "my_page")
    panel = client.post("/simulator/poll").json()["panels"]["old"]
    assert "一時利用停止中" in panel
    before = factory.worlds[0].clock.now()
    client.post("/simulator/operator", json={"action": "advance-48h"})
    assert (factory.worlds[0].clock.now() - before).total_seconds() == 49 * 3600
    r = client.post("/simulator/operator", json={"action": "reset"})
    assert screen_of(r.json()["panels"]["old"]) == "home"
    assert len(factory.worlds) == 2


def _model_change_with_the_old_phone_offline(client: httpx.Client) -> None:
    ev(client, "old", "network")  # the old phone goes offline (in a drawer)
    ev(client, "new", "press", "my_page")
    ev(client, "new", "press", "model_change")
    ev(client, "new", "toggle", "confirmed")
    ev(client, "new", "press", "apply", {"card_sign_password": "ABC123"})
    ev(client, "new", "tap-card")
    ev(client, "new", "press", "agree_next")
    ev(client, "new", "press", "next", {"new_password": "NEW456", "new_password_again": "NEW456"})
    ev(client, "new", "press", "next", {"new_password": "2468", "new_password_again": "2468"})


@pytest.mark.parametrize(
    ("action", "presses", "kept"),
    [("advance-48h", 1, True), ("advance-1h", 1, False), ("advance-1h", 47, False)],
)
def test_one_press_of_the_48_hour_button_goes_past_the_window(
    client: httpx.Client, factory: RecordingFactory, action: str, presses: int, kept: bool
) -> None:
    """The window is inclusive (the old phone deletes while now <= delete_until): a button
    that moved exactly 48 hours landed on its edge, and the after-48-hours notice needed two
    presses. One press now goes past it; the 1-hour step stays within it."""
    page = client.get("/simulator/").text
    assert "時間を49時間進める（48時間の期限を過ぎる）" in page  # noqa: RUF001
    assert 'data-testid="operator-advance-1h"' in page
    _model_change_with_the_old_phone_offline(client)
    for _ in range(presses):
        assert client.post("/simulator/operator", json={"action": action}).status_code == 200
    panel = ev(client, "old", "network")["old"]  # back online
    assert screen_of(panel) == "old-phone-notice"
    assert ("48時間を過ぎたため" in panel) is kept
    assert ("証明書はこのスマホから削除されました" in panel) is not kept
    statuses = set(factory.worlds[0].devices["old-phone"].status.values())
    assert statuses == {AppCertStatus.REVOKED if kept else AppCertStatus.NONE}


def test_offline_phone_gets_no_instructions_until_it_connects(
    client: httpx.Client, factory: RecordingFactory
) -> None:
    ev(client, "old", "network")  # the old phone goes offline
    world = factory.worlds[0]
    # the new phone does the model change (revoking the old phone's certificates)
    ev(client, "new", "press", "my_page")
    ev(client, "new", "press", "model_change")
    ev(client, "new", "toggle", "confirmed")
    ev(client, "new", "press", "apply", {"card_sign_password": "ABC123"})
    ev(client, "new", "tap-card")
    ev(client, "new", "press", "agree_next")
    ev(client, "new", "press", "next", {"new_password": "NEW456", "new_password_again": "NEW456"})
    ev(client, "new", "press", "next", {"new_password": "2468", "new_password_again": "2468"})
    panels = client.post("/simulator/poll").json()["panels"]
    assert screen_of(panels["old"]) == "home"
    assert set(world.devices["old-phone"].status.values()) == {AppCertStatus.REVOKED}
    panels = ev(client, "old", "network")  # back online: fetches and deletes
    assert screen_of(panels["old"]) == "old-phone-notice"
    assert set(world.devices["old-phone"].status.values()) == {AppCertStatus.NONE}


def test_english(client: httpx.Client) -> None:
    html = client.get("/simulator/?lang=en").text
    assert '<html lang="en">' in html and "My page" in html
    assert "日本語" in html


def test_bad_event_is_rejected(client: httpx.Client) -> None:
    r = client.post("/simulator/event", json={"phone": "third", "type": "press"})
    assert r.status_code == 422
