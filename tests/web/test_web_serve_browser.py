"""``mobile-jpki serve`` with the simulator on the REAL portal, in headless Chromium.

A data directory is initialised (``ca init``'s library call), ``mobile-jpki serve`` runs as a
real subprocess on a free port (certificates name that port in their OCSP URLs), and a person
walks the user's document's model change (①-⑬) on the new phone in the browser, with the
passwords the page shows. Then the old phone's network goes on: it fetches its signed
deletion instruction and shows the notice. Last, the relying-party kit asks the OCSP responder
named in each certificate: the old phone's are revoked (superseded), the new phone's good.
Screenshots: ``test-artifacts/screens/serve-NN-name.png``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from sqlalchemy import select

from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import CaGeneration, Certificate
from mobile_jpki.verify.certificate import TrustAnchors
from mobile_jpki.verify.fetch import HttpFetcher
from mobile_jpki.verify.revocation import check_revocation

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is absent")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) absent"),
]


@dataclass
class Served:
    url: str
    settings: Settings
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings, _ = init_data_dir(root / "data", dt.datetime.now(dt.UTC), base_url=url)
    log = root / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILE_JPKI_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mobile_jpki", "serve", "--data-dir", str(settings.data_dir),
             "--host", "127.0.0.1", "--port", str(port), "--simulator"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield Served(url, settings, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    playwright = sync_api.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: sync_api.Browser, served: Served) -> Iterator[sync_api.Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, locale="ja-JP")
    context.set_default_timeout(30_000)  # real RSA keys, real issuance jobs
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


class Walk:
    def __init__(self, page: sync_api.Page) -> None:
        self.page = page
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def tid(self, testid: str) -> sync_api.Locator:
        return self.page.get_by_test_id(testid)

    def click(self, testid: str) -> None:
        self.tid(testid).click()

    def expect(self, phone: str, screen: str) -> None:
        self.page.locator(f'[data-testid="screen-{phone}"][data-screen="{screen}"]').wait_for()

    def no_error(self, phone: str) -> None:
        message = self.tid(f"message-{phone}")
        assert message.count() == 0, message.inner_text()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"serve-{name}.png"))


def _phone_certificates(settings: Settings) -> dict[str, list[x509.Certificate]]:
    """The phone certificates in the CA's database, by portal device, oldest device first."""
    db = Database(settings.effective_database_url)
    try:
        with db.transaction(write=False) as s:
            rows = s.scalars(
                select(Certificate)
                .where(Certificate.device_id.is_not(None))
                .order_by(Certificate.issued_at, Certificate.serial)
            ).all()
            roots = [x509.load_der_x509_certificate(c.certificate_der)
                     for c in s.scalars(select(CaGeneration)).all()]  # fmt: skip
            by_device: dict[str, list[x509.Certificate]] = {}
            for row in rows:
                by_device.setdefault(row.device_id or "", []).append(
                    x509.load_der_x509_certificate(row.der)
                )
    finally:
        db.dispose()
    by_device["__roots__"] = roots
    return by_device


def test_model_change_on_the_real_portal(page: sync_api.Page, served: Served) -> None:
    w = Walk(page)
    page.goto(f"{served.url}/simulator/", timeout=90_000)
    # The session's test data: a card personalised through APDUs, an old phone registered.
    card_password = w.tid("info-card_sign_password").inner_text().strip()
    assert card_password.startswith("CARD")
    assert w.tid("info-old_phone").inner_text().startswith("sim-")
    data = served.settings.data_dir / "devices"
    assert (data / "cards" / f"{w.tid('info-card').inner_text().strip()}.state").is_file()
    assert w.tid("network-old").get_attribute("data-online") == "false"
    w.expect("new", "home")
    w.shot("00-start")

    # ①②③ my page → 機種変更
    w.click("button-new-my_page")
    w.expect("new", "my-page")
    w.click("button-new-model_change")
    w.expect("new", "apply-form")
    # ④ the card signing password (typed in lower case: the app upper-cases it)
    w.tid("input-new-card_sign_password").fill(card_password.lower())
    # ⑤ both certificates stay ticked; ⑥ 確認しました; ⑦ 申請する
    w.click("checkbox-new-confirmed")
    page.locator('[data-testid="checkbox-new-confirmed"]:checked').wait_for()
    w.shot("04-07-form")
    w.click("button-new-apply")
    w.expect("new", "card-read")
    # ⑧ the card on the NFC spot; ⑨ 「旧スマホ用電子証明書は失効されます」 → 同意して次へ
    page.drag_and_drop('[data-testid="card"]', '[data-testid="nfc-new"]')
    w.tid("dialog-new").wait_for()
    w.shot("09-dialog")
    w.click("dialog-button-new-agree_next")
    # ⑩ the new passwords, signing then user authentication; ⑪ 次へ
    w.expect("new", "new-password")
    w.tid("input-new-new_password").fill("NEWPH123")
    w.tid("input-new-new_password_again").fill("NEWPH123")
    w.click("button-new-next")
    page.locator('[data-testid="text-new-new_password_for_auth"]').wait_for()
    w.tid("input-new-new_password").fill("2468")
    w.tid("input-new-new_password_again").fill("2468")
    w.shot("10-new-password")
    w.click("button-new-next")
    w.expect("new", "apply-done")
    w.no_error("new")
    w.shot("11-apply-done")
    # ⑫ the push 登録準備完了 (serve's worker issues, the in-process channel delivers)
    w.tid("banner-new").wait_for(timeout=60_000)
    w.click("banner-new")
    w.expect("new", "my-page")
    assert "登録準備が完了しています" in w.tid("status-new-sign").inner_text()
    assert "登録準備が完了しています" in w.tid("status-new-auth").inner_text()
    w.shot("12-ready")
    w.click("button-new-register")
    w.expect("new", "register")
    # ⑬ 登録する → 登録完了
    w.click("button-new-register")
    w.expect("new", "register-done")
    assert "登録完了" in w.tid("screen-new").inner_text()
    w.shot("13-register-done")

    # The old phone comes online: it fetches its deletion instruction and tells its owner.
    w.expect("old", "home")
    w.click("network-toggle-old")
    w.expect("old", "old-phone-notice")
    assert "削除されました" in w.tid("screen-old").inner_text()
    w.shot("14-old-phone-deleted")

    # A relying party asks OCSP (the URL in each certificate, served by this `serve`).
    certs = _phone_certificates(served.settings)
    roots = TrustAnchors(tuple(certs.pop("__roots__")))
    assert len(certs) == 2, certs.keys()  # the old phone's device, then the new one's
    old_certs, new_certs = certs.values()
    now = dt.datetime.now(dt.UTC)
    with httpx.Client(timeout=10) as http:
        fetcher = HttpFetcher(http)

        def ocsp(cert: x509.Certificate) -> tuple[str, str | None]:
            issuer = roots.issuer_of(cert)
            assert issuer is not None
            result = check_revocation(cert, issuer, fetcher, now=now)
            return result.status.value, result.reason_word

        assert [ocsp(c) for c in old_certs] == [("revoked", "superseded")] * 2
        assert [ocsp(c) for c in new_certs] == [("good", None)] * 2
