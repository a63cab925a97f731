"""The CA's hierarchies: root generations, their keys and issuers, and each CA's delegated OCSP
responder, rolled over when it nears expiry (docs/ca.md, "Hierarchies, generations, keys").

What is read here is kept in memory per process: a generation and a responder never change once
written; a new generation or responder made in another process is picked up at restart (the
active CA) or at the next rollover check (the responder)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from mobile_jpki.pki import ocsp
from mobile_jpki.pki.issuance import Issuer, build_root, new_serial
from mobile_jpki.pki.model import CaIdentity, Hierarchy, utc
from mobile_jpki.service.ca.context import CaContext
from mobile_jpki.service.ca.errors import AlreadyInitialised, NotFound
from mobile_jpki.service.ca.responses import IssuerKey
from mobile_jpki.service.ca.values import SYSTEM, CaSummary, iso
from mobile_jpki.store.models import CaGeneration, OcspResponder, serial_hex


class Hierarchies:
    def __init__(self, ctx: CaContext) -> None:
        self._ctx = ctx
        self._identities: dict[str, CaIdentity] = {}
        self._issuers: dict[str, Issuer] = {}
        self._responders: dict[int, tuple[str, ocsp.Responder]] = {}
        self._by_issuer: dict[IssuerKey, str] = {}
        self._active: dict[Hierarchy, str] = {}
        # ca_id -> (responder row id, its not_after): avoids a read per signature.
        self._current_responder: dict[str, tuple[int, dt.datetime]] = {}
        self._sha1_issuer_keys: dict[str, IssuerKey] = {}

    # -- generations -----------------------------------------------------------------------
    def init_hierarchies(self, now: dt.datetime, *, actor: str = SYSTEM) -> list[str]:
        """Generation 1 of both hierarchies with their OCSP responders (idempotent: existing
        hierarchies are left alone). Returns the ca_ids created."""
        created = []
        for hierarchy in Hierarchy:
            with self._ctx.db.transaction(write=False) as s:
                exists = s.scalar(
                    select(func.count())
                    .select_from(CaGeneration)
                    .where(CaGeneration.hierarchy == hierarchy.value)
                )
            if not exists:
                created.append(self.add_generation(hierarchy, now, actor=actor))
        return created

    def add_generation(self, hierarchy: Hierarchy, now: dt.datetime, *, actor: str = SYSTEM) -> str:
        """A new root key generation (same DN, new key); it becomes the issuing one. Older
        generations keep answering OCSP and publishing CRLs for what they issued."""
        ctx = self._ctx
        now = utc(now)
        with ctx.db.transaction(write=False) as s:
            last = s.scalar(
                select(func.max(CaGeneration.generation)).where(
                    CaGeneration.hierarchy == hierarchy.value
                )
            )
        generation = (last or 0) + 1
        ca_id = CaIdentity.make_id(hierarchy, generation)
        key, key_ref = ctx.keys.generate(ca_id)
        cert = build_root(
            hierarchy=hierarchy,
            generation=generation,
            key=key,
            not_before=now,
            not_after=now + ctx.settings.root_validity,
            urls=ctx.urls,
        )
        try:
            with ctx.db.transaction() as s:
                s.execute(
                    update(CaGeneration)
                    .where(CaGeneration.hierarchy == hierarchy.value)
                    .values(active=False)
                )
                s.add(
                    CaGeneration(
                        ca_id=ca_id,
                        hierarchy=hierarchy.value,
                        generation=generation,
                        certificate_der=cert.public_bytes(serialization.Encoding.DER),
                        key_ref=key_ref,
                        created_at=now,
                        active=True,
                        last_crl_number=0,
                    )
                )
                s.flush()
                ctx.audit.record(
                    s,
                    at=now,
                    actor=actor,
                    action="ca.generation.create",
                    obj=ca_id,
                    payload={"serial": serial_hex(cert.serial_number), "key_ref": key_ref},
                )
        except IntegrityError as exc:
            raise AlreadyInitialised(ca_id) from exc
        self._identities[ca_id] = CaIdentity(ca_id, hierarchy, generation, cert, key)
        self._by_issuer.clear()
        self._active.pop(hierarchy, None)
        self.ensure_responder(ca_id, now, actor=actor)
        return ca_id

    def cas(self) -> list[CaSummary]:
        with self._ctx.db.transaction(write=False) as s:
            rows = s.scalars(select(CaGeneration).order_by(CaGeneration.ca_id)).all()
            return [
                CaSummary(
                    r.ca_id,
                    Hierarchy(r.hierarchy),
                    r.generation,
                    r.active,
                    x509.load_der_x509_certificate(r.certificate_der),
                )
                for r in rows
            ]

    def identity(self, ca_id: str) -> CaIdentity:
        cached = self._identities.get(ca_id)
        if cached is not None:
            return cached
        with self._ctx.db.transaction(write=False) as s:
            row = s.get(CaGeneration, ca_id)
            if row is None:
                raise NotFound("CA", ca_id)
            der, key_ref, hierarchy, generation = (
                row.certificate_der,
                row.key_ref,
                row.hierarchy,
                row.generation,
            )
        identity = CaIdentity(
            ca_id,
            Hierarchy(hierarchy),
            generation,
            x509.load_der_x509_certificate(der),
            self._ctx.keys.load(key_ref),
        )
        self._identities[ca_id] = identity
        return identity

    def issuer(self, ca_id: str) -> Issuer:
        issuer = self._issuers.get(ca_id)
        if issuer is None:
            issuer = Issuer(self.identity(ca_id), self._ctx.urls)
            self._issuers[ca_id] = issuer
        return issuer

    def active_ca(self, hierarchy: Hierarchy) -> str:
        # Cached: a new generation is made by add_generation (which clears it) and picked up
        # by other processes at their restart.
        cached = self._active.get(hierarchy)
        if cached is not None:
            return cached
        with self._ctx.db.transaction(write=False) as s:
            ca_id = s.scalar(
                select(CaGeneration.ca_id).where(
                    CaGeneration.hierarchy == hierarchy.value, CaGeneration.active.is_(True)
                )
            )
        if ca_id is None:
            raise NotFound("active CA for hierarchy", hierarchy.value)
        self._active[hierarchy] = ca_id
        return ca_id

    def issuer_index(self) -> dict[IssuerKey, str]:
        """Every CA by (hash algorithm, issuerNameHash, issuerKeyHash): generations share the
        DN, the key hash tells them apart."""
        if not self._by_issuer:
            index = {}
            for ca in self.cas():
                for alg in ocsp.HashAlgorithm:
                    index[ocsp.issuer_key(ca.certificate, alg)] = ca.ca_id
            self._by_issuer = index
        return self._by_issuer

    def sha1_key(self, ca: CaIdentity) -> IssuerKey:
        """The SHA-1 CertID issuer hashes of ``ca`` (the RFC 5019 profile of stored answers).
        Looked up in the calling thread, before any task that needs it is queued."""
        issuer_key = self._sha1_issuer_keys.get(ca.ca_id)
        if issuer_key is None:
            issuer_key = ocsp.issuer_key(ca.certificate, ocsp.HashAlgorithm.SHA1)
            self._sha1_issuer_keys[ca.ca_id] = issuer_key
        return issuer_key

    # -- OCSP responders -------------------------------------------------------------------
    def ensure_responder(
        self, ca_id: str, now: dt.datetime, *, actor: str = SYSTEM
    ) -> tuple[int, ocsp.Responder]:
        """The active responder of ``ca_id``, rolled over when it nears expiry."""
        now = utc(now)
        rollover_before = self._ctx.settings.responder_rollover_before
        known = self._current_responder.get(ca_id)
        if known and known[1] - now > rollover_before:
            return known[0], self._responder(known[0])
        with self._ctx.db.transaction(write=False) as s:
            row = s.scalars(
                select(OcspResponder)
                .where(OcspResponder.ca_id == ca_id, OcspResponder.active.is_(True))
                .order_by(OcspResponder.id.desc())
            ).first()
            current = (row.id, row.not_after) if row else None
        if current and current[1] - now > rollover_before:
            self._current_responder[ca_id] = current
            return current[0], self._responder(current[0])
        return self._roll_responder(ca_id, now, actor)

    def _roll_responder(
        self, ca_id: str, now: dt.datetime, actor: str
    ) -> tuple[int, ocsp.Responder]:
        ctx = self._ctx
        issuer = self.issuer(ca_id)
        with ctx.db.transaction(write=False) as s:
            count = s.scalar(
                select(func.count()).select_from(OcspResponder).where(OcspResponder.ca_id == ca_id)
            )
        key, key_ref = ctx.keys.generate(f"{ca_id}-ocsp-{(count or 0) + 1}")
        cert = issuer.ocsp_responder(
            key.public_key(),
            new_serial(ctx.randbytes),
            now,
            ctx.settings.responder_validity,
        )
        with ctx.db.transaction() as s:
            s.execute(
                update(OcspResponder).where(OcspResponder.ca_id == ca_id).values(active=False)
            )
            row = OcspResponder(
                ca_id=ca_id,
                serial=serial_hex(cert.serial_number),
                certificate_der=cert.public_bytes(serialization.Encoding.DER),
                key_ref=key_ref,
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                active=True,
            )
            s.add(row)
            s.flush()
            rid = row.id
            ctx.audit.record(
                s,
                at=now,
                actor=actor,
                action="ocsp.responder.create",
                obj=ca_id,
                payload={"serial": row.serial, "not_after": iso(row.not_after)},
            )
        responder = ocsp.Responder(cert, key)
        self._responders[rid] = (ca_id, responder)
        self._current_responder[ca_id] = (rid, cert.not_valid_after_utc)
        return rid, responder

    def _responder(self, rid: int) -> ocsp.Responder:
        cached = self._responders.get(rid)
        if cached is not None:
            return cached[1]
        with self._ctx.db.transaction(write=False) as s:
            row = s.get(OcspResponder, rid)
            if row is None:
                raise NotFound("OCSP responder", str(rid))
            der, key_ref, ca_id = row.certificate_der, row.key_ref, row.ca_id
        responder = ocsp.Responder(
            x509.load_der_x509_certificate(der), self._ctx.keys.load(key_ref)
        )
        self._responders[rid] = (ca_id, responder)
        return responder
