"""The I/O edge of the kit: fetching OCSP responses and CRLs.

Two small interfaces (DESIGN.md: one per I/O edge, injected, each with an in-tree fake): an
httpx implementation that speaks RFC 6960 Appendix A (POST ``application/ocsp-request``) and
RFC 5280 §4.2.1.13 (HTTP GET of a DER CRL), and :class:`FakeFetcher` for tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import httpx

from mobile_jpki.verify.errors import FetchError

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"


class OcspFetcher(Protocol):
    def fetch_ocsp(self, url: str, request_der: bytes) -> bytes:
        """POST the DER OCSPRequest to ``url``; the DER OCSPResponse, or :class:`FetchError`."""
        ...


class CrlFetcher(Protocol):
    def fetch_crl(self, url: str) -> bytes:
        """GET a DER CRL from ``url``, or raise :class:`FetchError`."""
        ...


class Fetcher(OcspFetcher, CrlFetcher, Protocol):
    """Both halves; what the kit's entry points take."""


class HttpFetcher:
    """OCSP and CRL retrieval over HTTP with httpx.

    ``client`` may be injected (an ASGI transport for in-process tests, a proxy-configured client
    in production); otherwise one with ``timeout`` seconds is made per fetcher.
    """

    def __init__(self, client: httpx.Client | None = None, *, timeout: float = 10.0) -> None:
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def fetch_ocsp(self, url: str, request_der: bytes) -> bytes:
        try:
            resp = self._client.post(
                url,
                content=request_der,
                headers={"Content-Type": OCSP_REQUEST_TYPE, "Accept": OCSP_RESPONSE_TYPE},
            )
        except httpx.HTTPError as exc:
            raise FetchError(url, f"OCSP request failed: {exc}") from exc
        if resp.status_code != 200:
            raise FetchError(url, f"OCSP responder answered HTTP {resp.status_code}")
        return resp.content

    def fetch_crl(self, url: str) -> bytes:
        try:
            resp = self._client.get(url)
        except httpx.HTTPError as exc:
            raise FetchError(url, f"CRL download failed: {exc}") from exc
        if resp.status_code != 200:
            raise FetchError(url, f"CRL distribution point answered HTTP {resp.status_code}")
        return resp.content

    def close(self) -> None:
        self._client.close()


class FakeFetcher:
    """In-tree fake: CRLs by URL, OCSP answers by URL (bytes, or a function of the request so a
    test can echo the nonce). A missing URL raises :class:`FetchError` like a network outage.
    ``calls`` records every URL asked for, in order."""

    def __init__(
        self,
        *,
        crls: Mapping[str, bytes] | None = None,
        ocsp: Mapping[str, bytes | Callable[[bytes], bytes]] | None = None,
    ) -> None:
        self.crls: dict[str, bytes] = dict(crls or {})
        self.ocsp: dict[str, bytes | Callable[[bytes], bytes]] = dict(ocsp or {})
        self.calls: list[str] = []

    def fetch_ocsp(self, url: str, request_der: bytes) -> bytes:
        self.calls.append(url)
        answer = self.ocsp.get(url)
        if answer is None:
            raise FetchError(url, "unreachable (fake)")
        return answer(request_der) if callable(answer) else answer

    def fetch_crl(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.crls:
            raise FetchError(url, "unreachable (fake)")
        return self.crls[url]
