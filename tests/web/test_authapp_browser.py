"""The デジタル認証アプリ twin in a real browser (issue 18 "Done when", Chromium): a real
``mobile-jpki serve --simulator`` on 127.0.0.1 with a relying party registered; one browser
context is the relying party's user (the authorization URL, built with PKCE S256, lands on
the web step), another is the same person's phone in the simulator (the web step's
「シミュレーターで開く」 link, consent, PIN and password typed on the simulated phone). The
first page then moves on by itself to the relying party's redirect URI with ``code`` and the
same ``state``, and Authlib exchanges the code with private_key_jwt for an ID token checked
against the twin's JWKS. 同意しない brings the relying party ``error=access_denied``.

The redirect URI is a tiny HTTP server on 127.0.0.1 that records where the browser came
back with (Playwright does not route a request a redirect made)."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mobile_jpki.web import walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from mobile_jpki.settings import Settings

pytestmark = pytest.mark.browser

RP_NAME = "Example RP"
EXAMPLE_NAME = "Example RP (examples/authapp_rp)"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "authapp_rp" / "app.py"
FACTS = "openid name address birthdate gender"
TIMEOUT = 60_000  # ms: a simulator session on the real portal issues a card and certificates


class _Callback(http.server.BaseHTTPRequestHandler):
    """The relying party's redirect URI: records where the browser came back with."""

    arrived: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if not self.path.startswith("/callback"):  # the browser's favicon.ico
            self.send_response(204)
            self.end_headers()
            return
        type(self).arrived.append(self.path)
        body = b"relying party"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class RelyingParty:
    """The relying party: its registration, its key, its redirect URI (a tiny local server)."""

    server: http.server.ThreadingHTTPServer
    client_id: str = ""
    private_jwk: dict[str, Any] = field(default_factory=dict)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def arrived(self) -> list[str]:
        base = self.redirect_uri.removesuffix("/callback")
        return [base + path for path in _Callback.arrived]

    def register(self, settings: Settings) -> None:
        """Before ``serve`` starts, on its data directory."""
        self.client_id, self.private_jwk = rp_register(
            settings.data_dir, RP_NAME, self.redirect_uri
        )


def rp_register(data_dir: Path, name: str, redirect_uri: str) -> tuple[str, dict[str, Any]]:
    """``mobile-jpki rp register --generate-key`` (a subprocess, as an operator runs it): the
    client_id (its last line) and the RP's private JWK."""
    key = data_dir.parent / f"rp-{secrets.token_hex(4)}.jwk"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILE_JPKI_")}
    done = subprocess.run(
        [sys.executable, "-m", "mobile_jpki", "rp", "register", "--data-dir", str(data_dir),
         "--name", name, "--redirect-uri", redirect_uri, "--generate-key", str(key)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    jwk: dict[str, Any] = json.loads(key.read_text(encoding="utf-8"))
    return done.stdout.strip().splitlines()[-1], jwk


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is absent")
    pytest.importorskip("authlib", reason="Authlib is absent")
    if not walk.CHROMIUM.exists():
        pytest.skip("Debian chromium (/usr/bin/chromium) absent")
    with walk.chromium() as b:
        yield b


@pytest.fixture(scope="module")
def rp() -> Iterator[RelyingParty]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RelyingParty(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class ExampleRp:
    """examples/authapp_rp, the relying party as an RP writes it (Authlib, joserfc)."""

    port: int = field(default_factory=walk.free_port)
    client_id: str = ""
    private_jwk: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def register(self, settings: Settings) -> None:
        # The redirect URI the example uses: RP_BASE_URL/callback.
        self.client_id, self.private_jwk = rp_register(
            settings.data_dir, EXAMPLE_NAME, f"{self.url}/callback"
        )


@pytest.fixture(scope="module")
def example_rp() -> ExampleRp:
    return ExampleRp()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, rp: RelyingParty, example_rp: ExampleRp
) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("authapp-browser")

    def prepare(settings: Settings) -> None:
        rp.register(settings)
        example_rp.register(settings)

    with walk.serve_portal(root, own_base_url=True, prepare=prepare) as url:
        yield url


@pytest.fixture(scope="module")
def example(server: str, example_rp: ExampleRp) -> Iterator[str]:
    """The example relying party served on 127.0.0.1 (its outgoing HTTP to ``server`` over
    TCP, as in a deployment); yields its URL."""
    import importlib.util

    import uvicorn

    if not EXAMPLE.is_file():
        pytest.skip("examples/authapp_rp is absent")
    spec = importlib.util.spec_from_file_location("authapp_rp_example_browser", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    app = module.create_app(
        module.RpSettings(
            issuer=f"{server}/api/realms/main", client_id=example_rp.client_id,
            private_jwk=example_rp.private_jwk, base_url=example_rp.url,
        )
    )  # fmt: skip
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=example_rp.port, log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the example relying party did not start")
        time.sleep(0.05)
    try:
        yield example_rp.url
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def meta(server: str) -> dict[str, Any]:
    found = httpx.get(f"{server}/api/realms/main/.well-known/openid-configuration").json()
    assert found["issuer"] == f"{server}/api/realms/main"
    return dict(found)


@pytest.fixture(scope="module")
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """The person's phone: one simulator session for the module (its cookie)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    context.set_default_timeout(TIMEOUT)
    try:
        yield context
    finally:
        context.close()


def rp_client(rp: RelyingParty, meta: dict[str, Any], scope: str) -> Any:
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

    class ShortPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
        """Authlib's default assertion lives an hour; the twin takes at most 5 minutes."""

        def sign(self, auth: Any, token_endpoint: str) -> Any:
            self.claims = {"exp": int(time.time()) + 60}
            return super().sign(auth, token_endpoint)

    return OAuth2Client(
        client_id=rp.client_id,
        client_secret=rp.private_jwk,
        token_endpoint_auth_method=ShortPrivateKeyJWT(meta["token_endpoint"], alg="RS256"),
        redirect_uri=rp.redirect_uri,
        code_challenge_method="S256",
        scope=scope,
    )


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class UserBrowser:
    """The relying party's user: the authorization URL, the web step, the way back."""

    def __init__(self, browser: Browser, rp: RelyingParty, monitor: walk.Monitor) -> None:
        self.context = browser.new_context(locale="ja-JP")
        self.context.set_default_timeout(TIMEOUT)
        self.page: Page = self.context.new_page()
        # The browser must see the twin's redirects (to the web step, back to the RP).
        monitor.attach(self.page, "relying party's browser", inject_csp=False)
        self.rp = rp
        self.seen = len(rp.arrived())

    def start(self, url: str, server: str) -> str:
        """Open the authorization URL; returns the simulator link of the web step."""
        with self.page.expect_response(lambda r: r.url.endswith("/qr.svg")) as qr:
            self.page.goto(url)
        assert qr.value.status == 200
        assert qr.value.headers["content-type"].startswith("image/svg+xml")
        assert "/api/realms/main/web-step/" in self.page.url
        assert RP_NAME in self.page.get_by_test_id("rp-name").inner_text()
        loaded = self.page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth")
        assert loaded > 0
        link = self.page.get_by_test_id("simulator-link").get_attribute("href")
        assert link is not None and link.startswith("/simulator/?authapp=")
        return f"{server}{link}"

    def scopes(self) -> list[str]:
        return [
            s or "" for s in self.page.locator("[data-testid=items] li").evaluate_all(
                "els => els.map(e => e.dataset.scope)"
            )
        ]  # fmt: skip

    def wait_back_at_rp(self, rp: RelyingParty) -> str:
        """The web step reloads itself every 2 s and, once the app answered, redirects."""
        self.page.wait_for_url(f"{rp.redirect_uri}?*", timeout=TIMEOUT)
        arrived = rp.arrived()[self.seen :]
        assert len(arrived) == 1, arrived
        assert self.page.url == arrived[0]
        return arrived[0]

    def close(self) -> None:
        self.context.close()


class Phone:
    """The simulated phone (one of the two; whichever the link opened on)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.which = ""

    def open(self, link: str) -> None:
        self.page.goto(link)
        self.page.get_by_test_id("phone-old").wait_for()
        for which in ("old", "new"):
            screen = self.page.get_by_test_id(f"screen-{which}")
            if screen.get_attribute("data-screen") == "authapp-consent":
                self.which = which
        assert self.which, "no phone shows the request"

    def screen(self) -> str:
        return self.page.get_by_test_id(f"screen-{self.which}").get_attribute("data-screen") or ""

    def text(self) -> str:
        return self.page.get_by_test_id(f"screen-{self.which}").inner_text()

    def wait_screen(self, name: str) -> None:
        self.page.wait_for_selector(
            f'[data-testid="screen-{self.which}"][data-screen="{name}"]', timeout=TIMEOUT
        )

    def press(self, name: str) -> None:
        self.page.get_by_test_id(f"button-{self.which}-{name}").click()

    def type(self, name: str, value: str) -> None:
        self.page.get_by_test_id(f"input-{self.which}-{name}").fill(value)

    def info(self, key: str) -> str:
        return self.page.get_by_test_id(f"info-{key}").inner_text().strip()


def test_login_through_the_simulator_then_code_exchange_and_id_token(
    browser: Browser,
    server: str,
    rp: RelyingParty,
    meta: dict[str, Any],
    phone: BrowserContext,
) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet
    from joserfc.jwt import JWTClaimsRegistry

    monitor = walk.Monitor(csp_required_from=server)
    client = rp_client(rp, meta, FACTS)
    verifier = secrets.token_urlsafe(48)  # RFC 7636 §4.1: 43-128 unreserved characters
    nonce = "n-0S6_WzA2Mj"
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert query_of(url)["code_challenge_method"] == "S256"
    user = UserBrowser(browser, rp, monitor)
    try:
        link = user.start(url, server)
        assert user.scopes() == FACTS.split()

        page = phone.new_page()
        monitor.attach(page, "simulator", inject_csp=False)
        sim = Phone(page)
        sim.open(link)
        shown = sim.text()
        assert f"{RP_NAME}が次の情報を求めています。" in shown
        for item in ("氏名", "住所", "生年月日", "性別"):
            assert item in shown
        sim.press("authapp_agree")
        sim.wait_screen("authapp-pin")
        prefix = f"{sim.which}_phone"
        # A wrong PIN first: the tries left, and nothing reaches the service.
        good_pin = sim.info(f"{prefix}_auth_pin")
        sim.type("auth_pin", "0000" if good_pin != "0000" else "1111")
        sim.press("next")
        sim.wait_screen("authapp-password")
        sim.type("sign_password", sim.info(f"{prefix}_sign_password"))
        sim.press("next")
        sim.wait_screen("authapp-pin")
        message = page.get_by_test_id(f"message-{sim.which}")
        assert message.get_attribute("data-code") == "wrong-phone-pin"
        assert "2" in message.inner_text()
        assert rp.arrived()[user.seen :] == []
        sim.type("auth_pin", good_pin)
        sim.press("next")
        sim.wait_screen("authapp-password")
        sim.type("sign_password", sim.info(f"{prefix}_sign_password"))
        sim.press("next")
        sim.wait_screen("authapp-done")
        assert "ブラウザに戻ってください" in sim.text()

        arrived = user.wait_back_at_rp(rp)
    finally:
        monitor.active = False  # closing aborts the simulator's polling: not a problem
        user.close()
        if "page" in locals():
            page.close()
        monitor.active = True
    answer = query_of(arrived)
    assert answer["state"] == state
    assert answer["iss"] == meta["issuer"]
    assert "code" in answer and "error" not in answer

    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=arrived, code_verifier=verifier
    )
    jwks = httpx.get(meta["jwks_uri"]).json()
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    JWTClaimsRegistry(
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": rp.client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    info = client.get(meta["userinfo_endpoint"]).json()
    client.close()
    assert info["sub"] == decoded.claims["sub"]
    # The simulator's fictitious resident (web/portal_world.py RESIDENT).
    assert "花子" in info["name"]
    assert info["birthdate"] == "1990-04-01"
    assert info["gender"] == "female"
    assert monitor.problems == [], "\n".join(monitor.problems)


def test_do_not_agree_sends_access_denied_to_the_relying_party(
    browser: Browser,
    server: str,
    rp: RelyingParty,
    meta: dict[str, Any],
    phone: BrowserContext,
) -> None:
    monitor = walk.Monitor(csp_required_from=server)
    client = rp_client(rp, meta, "openid")
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier="w" * 50, nonce="n-1"
    )
    client.close()
    user = UserBrowser(browser, rp, monitor)
    try:
        link = user.start(url, server)
        page = phone.new_page()
        monitor.attach(page, "simulator", inject_csp=False)
        sim = Phone(page)
        sim.open(link)
        sim.press("authapp_deny")
        sim.wait_screen("authapp-done")
        assert "同意しなかったため" in sim.text()
        arrived = user.wait_back_at_rp(rp)
    finally:
        monitor.active = False  # closing aborts the simulator's polling: not a problem
        user.close()
        if "page" in locals():
            page.close()
        monitor.active = True
    answer = query_of(arrived)
    assert answer["error"] == "access_denied"
    assert answer["state"] == state
    assert "code" not in answer
    assert monitor.problems == [], "\n".join(monitor.problems)


def approve_on_the_phone(phone: Phone, link: str, *, sign: bool) -> str:
    """Open the web step's simulator link, agree, PIN and password: what the phone shows."""
    phone.open(link)
    shown = phone.text()
    phone.press("authapp_agree")
    phone.wait_screen("authapp-pin")
    prefix = f"{phone.which}_phone"
    phone.type("auth_pin", phone.info(f"{prefix}_auth_pin"))
    phone.press("next")
    if sign:
        phone.wait_screen("authapp-password")
        phone.type("sign_password", phone.info(f"{prefix}_sign_password"))
        phone.press("next")
    phone.wait_screen("authapp-done")
    return shown


def test_the_example_relying_party_logs_in_and_signs_through_the_simulator(
    browser: Browser, server: str, example: str, phone: BrowserContext
) -> None:
    """examples/authapp_rp's own pages: log in, then a signature over a short text, each
    approved on the simulated phone from the web step's link."""
    monitor = walk.Monitor(csp_required_from=server)
    context = browser.new_context(locale="ja-JP")
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    monitor.attach(page, "example relying party", inject_csp=False)
    sim_page = phone.new_page()
    monitor.attach(sim_page, "simulator", inject_csp=False)
    sim = Phone(sim_page)
    try:
        page.goto(f"{example}/")
        page.get_by_role("link", name="Log in with the デジタル認証アプリ").click()
        page.wait_for_url("**/api/realms/main/web-step/*")
        assert EXAMPLE_NAME in page.get_by_test_id("rp-name").inner_text()
        link = page.get_by_test_id("simulator-link").get_attribute("href")
        shown = approve_on_the_phone(sim, f"{server}{link}", sign=True)
        assert EXAMPLE_NAME in shown and "氏名" in shown
        page.wait_for_url(f"{example}/")
        body = page.locator("body").inner_text()
        assert "ID token (verified)" in body and "Error" not in body
        assert "花子" in body and "1990-04-01" in body  # the simulator's resident

        page.get_by_role("button", name="Ask for a signature").click()
        page.wait_for_url("**/api/realms/main/web-step/*")
        assert [li.get_attribute("data-scope") for li in page.locator("li").all()] == [
            "openid",
            "sign",
        ]
        link = page.get_by_test_id("simulator-link").get_attribute("href")
        shown = approve_on_the_phone(sim, f"{server}{link}", sign=True)
        assert "電子署名" in shown and "SHA-256" in shown
        page.wait_for_url(f"{example}/")
        body = page.locator("body").inner_text()
        assert "Error" not in body, body
        assert "verified" in body and "I agree to the terms." in body
    finally:
        monitor.active = False
        context.close()
        sim_page.close()
        monitor.active = True
    assert monitor.problems == [], "\n".join(monitor.problems)
