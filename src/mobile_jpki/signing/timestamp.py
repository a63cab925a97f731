"""Getting RFC 3161 time-stamp tokens for signatures (CAdES-T / PAdES B-T): over HTTP from a TSA
URL such as ``{base}/tsa``, or in process from a :class:`~mobile_jpki.pki.tsa.TimeStampAuthority`
(tests, the demo)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Protocol

import httpx
from asn1crypto import cms

from mobile_jpki.clock import Clock
from mobile_jpki.pki.tsa import TimeStampAuthority, build_request, read_response, respond


class TimestampError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Timestamper(Protocol):
    def timestamp(self, digest: bytes, hash_algorithm: str = "sha256") -> bytes:
        """A DER TimeStampToken (ContentInfo) over ``digest``."""
        ...


def _token(reply_der: bytes, nonce: int) -> bytes:
    reply = read_response(reply_der)
    if not reply.granted or reply.token is None:
        failures = ",".join(sorted(reply.failures))
        raise TimestampError(f"time-stamp refused: {reply.status} [{failures}] {reply.text}")
    info = cms.ContentInfo.load(reply.token)["content"]["encap_content_info"]["content"].parsed
    if info["nonce"].native != nonce:
        # RFC 3161 §2.4.2: the reply must echo our nonce; anything else is a replayed token.
        raise TimestampError("the TSA did not echo our nonce")
    return reply.token


class HttpTimestamper:
    def __init__(self, url: str, client: httpx.Client | None = None, *, timeout: float = 10.0):
        self.url = url
        self._client = client or httpx.Client(timeout=timeout)

    def timestamp(self, digest: bytes, hash_algorithm: str = "sha256") -> bytes:
        nonce = secrets.randbits(63)
        req = build_request(digest, hash_algorithm=hash_algorithm, nonce=nonce)
        try:
            resp = self._client.post(
                self.url, content=req, headers={"Content-Type": "application/timestamp-query"}
            )
        except httpx.HTTPError as exc:
            raise TimestampError(f"{self.url}: {exc}") from exc
        if resp.status_code != 200:
            raise TimestampError(f"{self.url}: HTTP {resp.status_code}")
        return _token(resp.content, nonce)

    def close(self) -> None:
        self._client.close()


class LocalTimestamper:
    """A TSA in the same process (no HTTP)."""

    def __init__(
        self,
        tsa: TimeStampAuthority,
        clock: Clock,
        serials: Callable[[], int] = lambda: secrets.randbits(127) | 1,
    ) -> None:
        self._tsa, self._clock, self._serials = tsa, clock, serials

    def timestamp(self, digest: bytes, hash_algorithm: str = "sha256") -> bytes:
        nonce = secrets.randbits(63)
        req = build_request(digest, hash_algorithm=hash_algorithm, nonce=nonce)
        return _token(
            respond(req, tsa=self._tsa, now=self._clock.now(), serial=self._serials()), nonce
        )
