"""The front door ``/`` (issue 17 "Wanted" 1): what runs, where, the CA certificates; the
favicon; no inline script or style on any page we serve."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from mobile_jpki import __version__
from mobile_jpki.api.app import create_app
from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.runtime import System, open_system
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.service.ca.timestamping import load_or_create_tsa
from mobile_jpki.web.sandbox import SimulatorLimits

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=|<style", re.IGNORECASE)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[System]:
    settings, _ = init_data_dir(tmp_path / "my-data", NOW)
    system = open_system(settings, FixedClock(NOW))
    try:
        yield system
    finally:
        system.close()


def _links(html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]+)"', html)


def test_front_page_says_what_runs_and_every_link_answers(plain: System) -> None:
    with in_process_client(plain.app, base_url="http://front.test") as client:
        r = client.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = r.text
        assert f'data-testid="version">{__version__}<' in page
        assert "<code>my-data</code>" in page
        assert str(plain.settings.data_dir) not in page  # the name, never the full path
        assert "稼働中のサービス" in page and "What is running" in page
        assert "/simulator/" not in page and "--simulator" in page  # off, and how to turn on
        for text in ("POST /ocsp/sign", "POST /ocsp/auth", "POST /tsa"):
            assert text in page
        links = _links(page)
        assert {"/docs", "/openapi.json"} <= set(links)
        # The twin's discovery, for relying parties (every link is fetched below).
        assert "/api/realms/main/.well-known/openid-configuration" in links
        crt = [link for link in links if link.startswith("/ca/") and link.endswith(".crt")]
        assert len(crt) == len(plain.ca.cas()) + 1  # every CA generation and the TSA
        assert any(link.startswith("/crl/") for link in links)
        for link in links:
            assert client.get(link).status_code == 200, link
        assert not INLINE.search(page)


def test_ca_certificates_download_with_their_media_types(plain: System) -> None:
    with in_process_client(plain.app, base_url="http://front.test") as client:
        for summary in plain.ca.cas():
            der = client.get(f"/ca/{summary.ca_id}.crt")
            assert der.headers["content-type"] == "application/pkix-cert"  # RFC 2585 §4.1
            assert x509.load_der_x509_certificate(der.content) == summary.certificate
            pem = client.get(f"/ca/{summary.ca_id}.pem")
            assert pem.headers["content-type"] == "application/pem-certificate-chain"
            assert x509.load_pem_x509_certificate(pem.content) == summary.certificate
        tsa = load_or_create_tsa(plain.settings, plain.ca, NOW)
        assert x509.load_der_x509_certificate(client.get("/ca/tsa.crt").content) == (
            tsa.certificate
        )
        for bad in ("/ca/sign-99.crt", "/ca/..%2fsettings.json", "/ca/sign-1.der"):
            r = client.get(bad)
            assert r.status_code == 404, bad
            assert r.headers["content-type"] == "application/problem+json"


def test_favicon(plain: System) -> None:
    with in_process_client(plain.app, base_url="http://front.test") as client:
        for path in ("/favicon.svg", "/favicon.ico"):
            r = client.get(path)
            assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
            assert r.content.startswith(b"<svg")
        assert '<link rel="icon" href="/favicon.svg"' in client.get("/").text


def test_with_the_simulator_on_the_front_page_links_it(tmp_path: Path) -> None:
    settings, _ = init_data_dir(tmp_path / "data", NOW)
    from mobile_jpki.service.ca.bootstrap import open_ca

    # No portal installed: the simulator serves its in-memory world (fast).
    app = create_app(open_ca(settings), clock=FixedClock(NOW), simulator=SimulatorLimits())
    with in_process_client(app, base_url="http://front.test") as client:
        page = client.get("/").text
        assert 'href="/simulator/"' in page and "Sandbox: test data only" in page
        for link in _links(page):
            assert client.get(link).status_code == 200, link
        sim = client.get("/simulator/").text
        assert 'data-testid="sandbox-banner"' in sim
        assert '<link rel="icon" href="/favicon.svg"' in sim
        assert not INLINE.search(sim)
