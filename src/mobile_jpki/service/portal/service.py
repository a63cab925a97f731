"""The portal's use cases behind one object, :class:`PortalService`: residents and cards,
devices, applications, issuance jobs, registration, model change with the 48-hour deletion,
revocation, hold and release, password reset, validity check and push settings
(docs/portal.md).

This module only composes. Each use case lives in the module that owns it and is a function
of the shared :class:`~.context.Context`:

- :mod:`.operators` API keys and roles; :mod:`.registry` persons, cards, 異動, replacement;
- :mod:`.devices` enrolment, credentials, nonces, push; :mod:`.applications` 申請;
- :mod:`.jobs` issuance (the model change) and housekeeping; :mod:`.registration` 登録;
- :mod:`.suspension` hold and release; :mod:`.revocation` retiring devices and 失効;
- :mod:`.instructions` the signed instructions (deletion, password reset); :mod:`.views`
  what is read.

Every state change runs in ONE transaction (``Database.transaction()``) with its audit record,
its outbox notifications and — through :class:`~.ports.Authority` — the certificate status and
pre-signed OCSP answer. Use cases that change what a person holds first lock the person's row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), and the partial unique indexes of ``store/portal.py`` back the invariants up.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mobile_jpki.pki.identity import BasicFourFacts, Locality
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.service.audit import AuditLog
from mobile_jpki.store.db import Database

from . import (
    applications,
    devices,
    instructions,
    jobs,
    operators,
    registration,
    registry,
    revocation,
    sandbox,
    suspension,
    views,
)
from .config import SQLITE_JOBS_PER_TRANSACTION, PortalConfig
from .context import Context
from .devices import Enrolment
from .instructions import PendingInstruction
from .operators import ROLES, OperatorRef
from .ports import Authority, DocumentVerifier
from .registration import Registration
from .views import CertificateState, MyPage, MyPageEntry

# The result types, re-exported: callers import them from here as before the split.
__all__ = [
    "ROLES",
    "SQLITE_JOBS_PER_TRANSACTION",
    "CertificateState",
    "Enrolment",
    "MyPage",
    "MyPageEntry",
    "OperatorRef",
    "PendingInstruction",
    "PortalConfig",
    "PortalService",
    "Registration",
]


class PortalService:
    """The portal's use cases over one database. Time is always an argument."""

    def __init__(
        self,
        db: Database,
        *,
        authority: Authority,
        verifier: DocumentVerifier,
        instruction_key: ec.EllipticCurvePrivateKey,
        manufacturer_roots: Sequence[x509.Certificate],
        config: PortalConfig | None = None,
        randbytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.context = Context(
            db,
            authority=authority,
            verifier=verifier,
            instruction_key=instruction_key,
            manufacturer_roots=list(manufacturer_roots),
            config=config or PortalConfig(),
            randbytes=randbytes,
        )

    # --- what the edges read ----------------------------------------------------------------
    @property
    def db(self) -> Database:
        return self.context.db

    @property
    def authority(self) -> Authority:
        return self.context.authority

    @property
    def verifier(self) -> DocumentVerifier:
        return self.context.verifier

    @property
    def instruction_key(self) -> ec.EllipticCurvePrivateKey:
        return self.context.instruction_key

    @property
    def manufacturer_roots(self) -> list[x509.Certificate]:
        """The configured roots; changed in place, the change applies to the next call."""
        return self.context.manufacturer_roots

    @property
    def config(self) -> PortalConfig:
        return self.context.config

    @config.setter
    def config(self, value: PortalConfig) -> None:
        self.context.config = value

    @property
    def audit(self) -> AuditLog:
        return self.context.audit

    def roots(self, hierarchy: Hierarchy, *, refresh: bool = False) -> list[x509.Certificate]:
        return self.context.roots(hierarchy, refresh=refresh)

    def wake(self) -> None:
        self.context.wake()

    def wait_for_jobs(self, timeout: float) -> bool:
        return self.context.wait_for_jobs(timeout)

    # --- operators ----------------------------------------------------------------------------
    def create_api_key(self, *, name: str, role: str, now: dt.datetime) -> tuple[str, str]:
        return operators.create_api_key(self.context, name=name, role=role, now=now)

    def authenticate_operator(self, secret: str, *, now: dt.datetime) -> OperatorRef:
        return operators.authenticate_operator(self.context, secret, now=now)

    def close_sandbox_session(
        self,
        *,
        person_id: str | None,
        device_ids: Sequence[str],
        api_key_id: str | None,
        now: dt.datetime,
    ) -> list[int]:
        """The simulator's session ended: its certificates revoked, phones retired, key
        revoked (:mod:`.sandbox`)."""
        return sandbox.close_sandbox_session(
            self.context, person_id=person_id, device_ids=device_ids, api_key_id=api_key_id, now=now
        )

    # --- the register: persons and cards ------------------------------------------------------
    def register_person(
        self, op: OperatorRef, *, facts: BasicFourFacts, locality: Locality, now: dt.datetime
    ) -> str:
        return registry.register_person(self.context, op, facts=facts, locality=locality, now=now)

    def card_certificates(
        self, op: OperatorRef, *, card_id: str, now: dt.datetime
    ) -> frozenset[CertKind]:
        return registry.card_certificates(self.context, op, card_id=card_id, now=now)

    def abandon_card(self, op: OperatorRef, *, card_id: str, now: dt.datetime) -> list[int]:
        return registry.abandon_card(self.context, op, card_id=card_id, now=now)

    def register_card(
        self,
        op: OperatorRef,
        *,
        person_id: str,
        applet_serial: bytes,
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> str:
        return registry.register_card(
            self.context,
            op,
            person_id=person_id,
            applet_serial=applet_serial,
            expires_at=expires_at,
            now=now,
        )

    def certify_card_key(
        self,
        op: OperatorRef,
        *,
        card_id: str,
        kind: CertKind,
        public_key: rsa.RSAPublicKey,
        now: dt.datetime,
    ) -> x509.Certificate:
        return registry.certify_card_key(
            self.context, op, card_id=card_id, kind=kind, public_key=public_key, now=now
        )

    def change_facts(
        self,
        op: OperatorRef,
        *,
        person_id: str,
        facts: BasicFourFacts,
        locality: Locality,
        now: dt.datetime,
    ) -> list[int]:
        return registry.change_facts(
            self.context, op, person_id=person_id, facts=facts, locality=locality, now=now
        )

    def replace_card(self, op: OperatorRef, *, card_id: str, now: dt.datetime) -> list[int]:
        return registry.replace_card(self.context, op, card_id=card_id, now=now)

    # --- devices ------------------------------------------------------------------------------
    def enrol_device(
        self, *, attestation_der: bytes, push_channel: str, now: dt.datetime
    ) -> Enrolment:
        return devices.enrol_device(
            self.context, attestation_der=attestation_der, push_channel=push_channel, now=now
        )

    def authenticate_device(self, credential: str, *, client: str | None, now: dt.datetime) -> str:
        return devices.authenticate_device(self.context, credential, client=client, now=now)

    def new_nonce(self, device_id: str, *, purpose: str, now: dt.datetime) -> str:
        return devices.new_nonce(self.context, device_id, purpose=purpose, now=now)

    def set_push(self, device_id: str, *, enabled: bool, now: dt.datetime) -> None:
        devices.set_push(self.context, device_id, enabled=enabled, now=now)

    # --- applications and their issuance jobs -------------------------------------------------
    def apply(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> str:
        return applications.apply(self.context, device_id, cms_der, now=now)

    def run_jobs(self, *, now: dt.datetime, limit: int = 100) -> int:
        return jobs.run_jobs(self.context, now=now, limit=limit)

    def housekeeping(self, *, now: dt.datetime, keep: dt.timedelta = dt.timedelta(days=7)) -> int:
        return jobs.housekeeping(self.context, now=now, keep=keep)

    # --- registration (登録) ------------------------------------------------------------------
    def registrations(self, device_id: str) -> list[Registration]:
        return registration.registrations(self.context, device_id)

    def complete_registration(
        self, device_id: str, item_id: str, signature: bytes, *, now: dt.datetime
    ) -> str:
        return registration.complete_registration(
            self.context, device_id, item_id, signature, now=now
        )

    # --- instructions (the 48-hour deletion, password reset) ----------------------------------
    def pending_instructions(self, device_id: str, *, now: dt.datetime) -> list[PendingInstruction]:
        return instructions.pending_instructions(self.context, device_id, now=now)

    def lapsed_instructions(self, device_id: str, *, now: dt.datetime) -> list[PendingInstruction]:
        return instructions.lapsed_instructions(self.context, device_id, now=now)

    def sign_deletion(
        self, device_id: str, instruction_id: str, challenge: bytes, *, now: dt.datetime
    ) -> bytes:
        return instructions.sign_deletion(
            self.context, device_id, instruction_id, challenge, now=now
        )

    def acknowledge_instruction(
        self, device_id: str, instruction_id: str, *, now: dt.datetime
    ) -> None:
        instructions.acknowledge_instruction(self.context, device_id, instruction_id, now=now)

    def record_refusal(
        self, device_id: str, instruction_id: str, sw: int, reason: str, *, now: dt.datetime
    ) -> None:
        instructions.record_refusal(self.context, device_id, instruction_id, sw, reason, now=now)

    def password_reset(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> bytes:
        return instructions.password_reset(self.context, device_id, cms_der, now=now)

    # --- suspension and revocation ------------------------------------------------------------
    def hold_phone(self, op: OperatorRef, *, person_id: str, now: dt.datetime) -> list[int]:
        return suspension.hold_phone(self.context, op, person_id=person_id, now=now)

    def clear_revoked(self, device_id: str, challenge: bytes, *, now: dt.datetime) -> bytes:
        return instructions.clear_revoked(self.context, device_id, challenge, now=now)

    def holder_inquiry(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> bool:
        return applications.holder_inquiry(self.context, device_id, cms_der, now=now)

    def release_card(self, op: OperatorRef, *, person_id: str, now: dt.datetime) -> list[int]:
        return suspension.release_card(self.context, op, person_id=person_id, now=now)

    def release_hold(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> dict[str, str]:
        return suspension.release_hold(self.context, device_id, cms_der, now=now)

    def revoke_from_phone(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> list[int]:
        return revocation.revoke_from_phone(self.context, device_id, cms_der, now=now)

    def revoke_other_device(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> list[int]:
        return revocation.revoke_other_device(self.context, device_id, cms_der, now=now)

    # --- reading ------------------------------------------------------------------------------
    def certificate_states(self, device_id: str) -> list[CertificateState]:
        return views.certificate_states(self.context, device_id)

    def my_page(self, device_id: str) -> MyPage:
        return views.my_page(self.context, device_id)

    def holders(self, person_id: str) -> list[str]:
        return views.holders(self.context, person_id)
