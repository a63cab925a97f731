"""The OCSP responder's answers (docs/ca.md, "Pre-signed OCSP" and "HTTP").

One serving path, two entry points on it:

- :meth:`OcspAnswers.answer` answers any request: the stored pre-signed answer when it is an
  RFC 5019 request (one certificate, SHA-1 CertID, no nonce) and the stored answer is fresh;
  re-signed under the row lock when it is stale or was never pre-signed; signed freshly for
  nonces, several certificates or SHA-256 CertIDs; an OCSP error response for bad input.
- :meth:`OcspAnswers.cached` is its first step alone: the stored answer or ``None``, never a
  signature, a write or an exception. The HTTP edge calls it where it is cheap enough for an
  event loop, through :class:`PresignedAnswers` (``CertificateAuthority.presigned_answers``,
  handed out only where the read is local), and calls :meth:`answer` in a thread otherwise.

Stored answers are read through :class:`StoredResponses`, committed state on every read, never
an in-process cache, so a revocation committed by any process is served at once:
:class:`EngineResponses` through SQLAlchemy's pool (PostgreSQL, in-memory SQLite), or
``ocsp_sqlite.SqliteFileResponses`` on a private sqlite3 connection (a SQLite file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import NamedTuple, Protocol

from sqlalchemy import Engine, bindparam, select

from mobile_jpki.pki import ocsp, ocsp_rfc5019
from mobile_jpki.pki.model import Hierarchy, utc
from mobile_jpki.service.ca.context import CaContext
from mobile_jpki.service.ca.hierarchy import Hierarchies
from mobile_jpki.service.ca.responses import GOOD, CertState, ResponseSigner, state_of
from mobile_jpki.service.ca.values import OcspAnswer
from mobile_jpki.store.models import Certificate, OcspResponse, serial_hex


class StoredRow(NamedTuple):
    """A certificate's stored pre-signed response, as read (times timezone-aware UTC)."""

    der: bytes
    this_update: dt.datetime
    next_update: dt.datetime
    produced_at: dt.datetime
    ca_id: str  # the certificate's issuer


class StoredResponses(Protocol):
    """One primary-key read of a certificate's stored response, committed state."""

    @property
    def local(self) -> bool:
        """True when a read is of a local file (tens of microseconds, fine on an event loop);
        False for a network database, whose reads belong in a thread."""

    def read(self, serial: str) -> StoredRow | None:
        """The stored response of the certificate ``serial`` (hex), or ``None``."""

    def version_probe(self) -> Callable[[], object] | None:
        """See :meth:`PresignedAnswers.version_probe`."""


class PresignedAnswers(Protocol):
    """What the OCSP front door (``api/ocsp_front.py``) and the ASGI fast path (``api/ocsp.py``)
    call, on the event loop: stored pre-signed answers and a commit probe. Handed out only where
    reads are local (a SQLite file); elsewhere the edge calls ``ocsp_answer`` in a thread."""

    def cached(
        self, request_der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None
    ) -> OcspAnswer | None:
        """The stored pre-signed answer for an RFC 5019 request whose response is still fresh;
        ``None`` for everything else (the caller then asks ``ocsp_answer``). Never signs,
        writes or raises for bad input."""

    def version_probe(self) -> Callable[[], object] | None:
        """A function returning a value that changes whenever any connection of any process
        commits to the database (``store/change_probe.py``), on a read-only connection of its
        own; ``None`` where there is none.

        A caller may keep what it derived from :meth:`cached` while the probe's value is
        unchanged, provided it reads the value BEFORE the answer it keeps (a commit landing in
        between then only makes the kept answer look older than it is). Values of different
        probes are not comparable, and a probe is used from the thread that made it."""


_READ_STORED = (
    select(
        OcspResponse.der,
        OcspResponse.this_update,
        OcspResponse.next_update,
        OcspResponse.produced_at,
        Certificate.ca_id,
    )
    .join(Certificate, Certificate.serial == OcspResponse.serial)
    .where(OcspResponse.serial == bindparam("serial"))
)


class EngineResponses:
    """Stored responses read on a pooled SQLAlchemy connection: PostgreSQL, in-memory SQLite."""

    local = False

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read(self, serial: str) -> StoredRow | None:
        with self._engine.connect() as conn:
            hit = conn.execute(_READ_STORED, {"serial": serial}).first()
        return None if hit is None else StoredRow(*hit)

    def version_probe(self) -> Callable[[], object] | None:
        return None


class OcspAnswers:
    def __init__(
        self,
        ctx: CaContext,
        hierarchies: Hierarchies,
        signer: ResponseSigner,
        stored: StoredResponses,
    ) -> None:
        self._ctx = ctx
        self._hierarchies = hierarchies
        self._signer = signer
        self._stored = stored
        # ca_id -> serials of the CA's own service certificates (the TSA's) that have no
        # end-entity row: answered "good" instead of "unknown" (see add_service_certificate).
        self._service: dict[str, frozenset[int]] = {}

    def add_service_certificate(self, ca_id: str, serial: int) -> None:
        """Answer for a certificate ``ca_id`` issued to one of the CA's own services (the
        time-stamping authority): "good" while it is known, so every certificate on a
        time-stamped signature's path has a status a strict validator can fetch (RFC 6960
        §2.2; ETSI EN 319 102-1 §5.2.5). Known per process: each process that serves OCSP
        and the TSA registers the TSA certificate it loads (``timestamping.load_or_create_tsa``).
        Such a certificate is never revoked by the CA; a TSA key is replaced instead."""
        self._service[ca_id] = self._service.get(ca_id, frozenset()) | {serial}

    def _service_state(self, ca_id: str, serial: int) -> CertState | None:
        return GOOD if serial in self._service.get(ca_id, ()) else None

    @property
    def local(self) -> bool:
        return self._stored.local

    def version_probe(self) -> Callable[[], object] | None:
        return self._stored.version_probe()

    def answer(
        self, request_der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None
    ) -> OcspAnswer:
        """Answer one OCSP request. Never raises for bad input: errors become OCSP error
        responses (RFC 6960 §2.3)."""
        now = utc(now)
        try:
            request = ocsp.parse_request(request_der)
            ca_id = self._authoritative_ca(request, hierarchy)
        except ocsp.OcspError as exc:
            return OcspAnswer(ocsp.error_response(exc.status), exc.status, now)
        ids = request.cert_ids
        if (
            request.nonce is None
            and len(ids) == 1
            and ids[0].hash_algorithm is ocsp.HashAlgorithm.SHA1
        ):
            stored = self._fresh_stored(ids[0].serial, ca_id, now)
            if stored is not None:
                return stored
            return self._refresh(ids[0], ca_id, now)
        return self._signed(request, ca_id, now)

    def cached(
        self, request_der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None
    ) -> OcspAnswer | None:
        """The stored pre-signed answer for an RFC 5019 request (one certificate, SHA-1 CertID,
        no nonce) whose response is still fresh; ``None`` for everything else — malformed,
        unauthorised, nonce, several certificates, unknown, stale or not yet pre-signed —
        which the caller then passes to :meth:`answer`. Never signs, never writes, never
        raises for bad input. One primary-key read of committed state on every call."""
        # The byte-wise matcher first (the canonical DER every client sends, ~3 us); the parser
        # through cryptography (~8 us) for anything else it could still be.
        cert_id = ocsp_rfc5019.match(request_der) or ocsp.rfc5019_cert_id(request_der)
        if cert_id is None:
            return None
        ca_id = self._hierarchies.issuer_index().get(cert_id.issuer_key)
        if ca_id is None or (hierarchy is not None and not ca_id.startswith(f"{hierarchy.value}-")):
            return None
        return self._fresh_stored(cert_id.serial, ca_id, utc(now))

    def _fresh_stored(self, serial: int, ca_id: str, now: dt.datetime) -> OcspAnswer | None:
        hit = self._stored.read(serial_hex(serial))
        if hit is None or hit.ca_id != ca_id:
            return None
        served_until = hit.next_update - self._ctx.settings.ocsp_refresh_before
        if hit.this_update > now or now >= served_until:
            return None
        return OcspAnswer(
            hit.der,
            ocsp.ResponseStatus.SUCCESSFUL,
            hit.produced_at,
            hit.this_update,
            hit.next_update,
            cacheable=True,
            served_until=served_until,
        )

    def _authoritative_ca(self, request: ocsp.OcspRequest, hierarchy: Hierarchy | None) -> str:
        index = self._hierarchies.issuer_index()
        found = {index.get(c.issuer_key) for c in request.cert_ids}
        if None in found:
            raise ocsp.Unauthorized("a certificate in the request is not from our CAs")
        if len(found) != 1:
            # One delegated responder speaks for one CA only (RFC 6960 §4.2.2.2).
            raise ocsp.Unauthorized("the request mixes issuers")
        ca_id = found.pop()
        assert ca_id is not None  # noqa: S101 - None was excluded above
        if hierarchy is not None and not ca_id.startswith(f"{hierarchy.value}-"):
            raise ocsp.Unauthorized(f"{ca_id} is not a {hierarchy.value} CA")
        return ca_id

    def _refresh(self, cert_id: ocsp.CertId, ca_id: str, now: dt.datetime) -> OcspAnswer:
        """Re-sign a stale (or never pre-signed) stored response under the write lock, so it
        cannot overwrite a revocation that commits meanwhile."""
        hierarchies, db = self._hierarchies, self._ctx.db
        ca = hierarchies.identity(ca_id)
        rid, responder = hierarchies.ensure_responder(ca_id, now)
        key = serial_hex(cert_id.serial)
        with db.transaction() as s:
            row = s.execute(
                db.lock(select(Certificate).where(Certificate.serial == key))
            ).scalar_one_or_none()
            if row is None or row.ca_id != ca_id:
                state = self._service_state(ca_id, cert_id.serial)
                answer = self._signer.single(cert_id, state, now, responder)
                der = ocsp.build_response(responder=responder, answers=[answer], produced_at=now)
                return OcspAnswer(
                    der,
                    ocsp.ResponseStatus.SUCCESSFUL,
                    now,
                    answer.this_update,
                    answer.next_update,
                    cacheable=True,
                )
            fresh = OcspResponse(
                **self._signer.stored(
                    hierarchies.sha1_key(ca), cert_id.serial, rid, responder, now, state_of(row)
                )
            )
            s.merge(fresh)
        return OcspAnswer(
            fresh.der,
            ocsp.ResponseStatus.SUCCESSFUL,
            now,
            fresh.this_update,
            fresh.next_update,
            cacheable=True,
        )

    def _signed(self, request: ocsp.OcspRequest, ca_id: str, now: dt.datetime) -> OcspAnswer:
        """A freshly signed answer (nonce echoed, several certificates, SHA-256 CertIDs)."""
        _, responder = self._hierarchies.ensure_responder(ca_id, now)
        keys = [serial_hex(c.serial) for c in request.cert_ids]
        with self._ctx.db.transaction(write=False) as s:
            rows = {
                r.serial: r
                for r in s.scalars(select(Certificate).where(Certificate.serial.in_(keys))).all()
            }
            answers = []
            for cert_id, key in zip(request.cert_ids, keys, strict=True):
                row = rows.get(key)
                state = (
                    state_of(row)
                    if row is not None and row.ca_id == ca_id
                    else self._service_state(ca_id, cert_id.serial)
                )
                answers.append(self._signer.single(cert_id, state, now, responder))
        der = ocsp.build_response(
            responder=responder, answers=answers, produced_at=now, nonce=request.nonce
        )
        next_update = min(a.next_update for a in answers if a.next_update is not None)
        return OcspAnswer(
            der,
            ocsp.ResponseStatus.SUCCESSFUL,
            now,
            now,
            next_update,
            cacheable=request.nonce is None,
        )
