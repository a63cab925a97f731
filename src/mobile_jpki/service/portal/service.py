"""The portal's use cases: residents and cards, devices, applications, issuance jobs,
registration, model change with the 48-hour deletion, revocation, hold and release, password
reset, validity check and push settings (docs/portal.md).

Every state change runs in ONE transaction (``Database.transaction()``) with its audit record,
its outbox notifications and — through :class:`~.ports.Authority` — the certificate status and
pre-signed OCSP answer. Use cases that change what a person holds first lock the person's row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), and the partial unique indexes of ``store/portal.py`` back the invariants up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobile_jpki.applet.attestation import (
    AttestationError,
    GeneratedKey,
    element_serial,
    verify_attested_key,
)
from mobile_jpki.applet.constants import Slot
from mobile_jpki.applet.instructions import Action, build_instruction
from mobile_jpki.pki.identity import BasicFourFacts, Locality, Sex
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.pki.validity import (
    EligibilityError,
    ValidityError,
    card_validity,
    check_signing_eligibility,
    phone_validity,
)
from mobile_jpki.push import outbox
from mobile_jpki.service.audit import AuditLog
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.service.signing_pool import SignedWrites
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import Certificate, CertStatus, serial_hex
from mobile_jpki.store.portal import (
    ApiKey,
    Application,
    ApplicationItem,
    ApplicationStatus,
    Card,
    CardStatus,
    Device,
    DeviceInstruction,
    ItemStatus,
    Job,
    JobStatus,
    Nonce,
    OutboxMessage,
    Person,
)

from . import errors as E
from . import queries as Q
from .attestations import AttestationCertificates
from .documents import (
    ApplicationDoc,
    DocType,
    ReleaseDoc,
    ResetDoc,
    RevocationDoc,
    parse,
)
from .ports import DocumentVerifier

_T = TypeVar("_T")
PHONE_KINDS = (CertKind.PHONE_SIGN, CertKind.PHONE_AUTH)
_PHONE_KIND_VALUES = frozenset(k.value for k in PHONE_KINDS)
REGISTRATION_CONTEXT = b"mobile-jpki registration v1\x00"


@dataclass(frozen=True)
class PortalConfig:
    """Tunables; the *uncertain* ones are documented in docs/portal.md."""

    terms_version: str = "2025-06"
    # The seed: "48時間以内に別端末をネットワークに接続すれば、端末から証明書が削除されます".
    deletion_window: dt.timedelta = dt.timedelta(hours=48)
    nonce_validity: dt.timedelta = dt.timedelta(minutes=10)
    # How far a document's signed_at may be from the service's clock.
    signing_skew: dt.timedelta = dt.timedelta(minutes=10)
    applications_per_card: int = 10
    application_window: dt.timedelta = dt.timedelta(days=1)
    credential_failures: int = 10
    credential_window: dt.timedelta = dt.timedelta(minutes=15)
    reset_validity: dt.timedelta = dt.timedelta(minutes=10)
    job_attempts: int = 5
    # Issuance jobs committed together (group commit). None: SQLITE_JOBS_PER_TRANSACTION on
    # SQLite, where the one writer serialises everything anyway and each commit is an fsync;
    # 1 on PostgreSQL, where a batch would hold its CRL-shard rows and the audit chain head
    # until its commit, making every concurrent revocation wait (and two batches could
    # deadlock on shards locked in different orders).
    jobs_per_transaction: int | None = None
    # *Uncertain* (JPKI-FACTS.md): does 異動 revoke the phone's signing certificate? Default yes.
    move_revokes_phone_signing: bool = True


#: Jobs per transaction on SQLite. Each batch is one commit (an fsync), one claim, one audit
#: append, and one wait for the signatures still being made at its end; 32 instead of 8
#: lowered the CPU per model change by ~10 % (benchmarks/model_change.py, alternating runs,
#: docs/portal.md "Figures"). The price: a backlog's batch holds SQLite's write lock for
#: ~200-250 ms here (32 jobs of 6-8 ms), which an application or a revocation arriving then
#: waits out (readers, OCSP among them, do not wait: WAL).
SQLITE_JOBS_PER_TRANSACTION = 32


# --- results ------------------------------------------------------------------------------
# Operator roles: the municipal office (residents, cards, 異動, holds at the counter) and the
# 24/365 hotline (holds only).
ROLE_OFFICE, ROLE_HOTLINE, ROLE_ADMIN = "office", "hotline", "admin"
ROLES = (ROLE_OFFICE, ROLE_HOTLINE, ROLE_ADMIN)


@dataclass(frozen=True)
class OperatorRef:
    key_id: str
    role: str

    @property
    def actor(self) -> str:
        return f"operator:{self.key_id}"

    def require(self, *roles: str) -> None:
        """Least privilege: a hotline key only suspends; the municipal office also takes
        suspensions at its counter; ``admin`` can do everything."""
        if self.role not in (*roles, ROLE_ADMIN):
            raise E.Forbidden(f"this API key's role ({self.role}) cannot do that")


@dataclass(frozen=True)
class SigningCard:
    """The card whose signing certificate signed a document."""

    card_id: str
    person_id: str
    serial: str  # of the card's signing certificate (hex)


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    credential: str  # "<device_id>.<secret>": shown once, stored hashed


@dataclass(frozen=True)
class Registration:
    item_id: str
    application_id: str
    kind: CertKind
    certificate: x509.Certificate
    challenge: bytes

    def message(self) -> bytes:
        """What the newly installed key signs to prove the installation."""
        return registration_message(self.item_id, self.challenge)


@dataclass(frozen=True)
class PendingInstruction:
    id: str
    actions: int
    instruction: bytes
    not_after: dt.datetime
    reason: str


@dataclass(frozen=True)
class CertificateState:
    kind: CertKind
    serial: int
    status: str  # good / held / revoked
    reason: int | None
    not_after: dt.datetime
    registered: bool


@dataclass(frozen=True)
class MyPageEntry:
    kind: CertKind
    state: str  # registration-ready / registered / held / revoked / none
    label: str


@dataclass(frozen=True)
class MyPage:
    device_id: str
    holder: bool
    push_enabled: bool
    entries: list[MyPageEntry] = field(default_factory=list)
    applications: list[tuple[str, str]] = field(default_factory=list)


LABELS = {
    "registration-ready": "登録準備が完了しています",
    "registered": "登録済み",
    "held": "一時利用停止中",
    "revoked": "失効済み",
    "pending": "申請中",
    "none": "未申請",
}


def _need(value: _T | None) -> _T:
    """A row the transaction itself references must exist (foreign keys guarantee it)."""
    if value is None:
        raise LookupError("a referenced row is missing")
    return value


def _age(cert: Certificate) -> tuple[dt.datetime, bool]:
    """Oldest first. Times have whole seconds: of two certificates issued in the same second
    the revoked one is the older (it was superseded by the other)."""
    return cert.issued_at, cert.status != CertStatus.REVOKED.value


def _ref(device: Device) -> Q.DeviceRef:
    return Q.DeviceRef(device.id, device.element_serial, device.push_enabled)


def registration_message(item_id: str, challenge: bytes) -> bytes:
    return REGISTRATION_CONTEXT + item_id.encode("ascii") + b"\x00" + challenge


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def facts_to_json(facts: BasicFourFacts, locality: Locality) -> str:
    return json.dumps(
        {
            "name": facts.name,
            "name_flags": facts.name_substitute_flags,
            "sex": facts.sex.name,
            "dob": facts.date_of_birth.isoformat(),
            "address": facts.address,
            "address_flags": facts.address_substitute_flags,
            "prefecture": locality.prefecture_romaji,
            "city": locality.city_romaji,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def facts_from_json(text: str) -> tuple[BasicFourFacts, Locality]:
    raw = json.loads(text)
    facts = BasicFourFacts(
        name=raw["name"],
        name_substitute_flags=raw["name_flags"],
        sex=Sex[raw["sex"]],
        date_of_birth=dt.date.fromisoformat(raw["dob"]),
        address=raw["address"],
        address_substitute_flags=raw["address_flags"],
    )
    return facts, Locality(raw["prefecture"], raw["city"])


def _public_key(spki: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_der_public_key(spki)
    except ValueError:
        raise E.InvalidRequest("a public key is not SubjectPublicKeyInfo DER") from None
    if (
        not isinstance(key, rsa.RSAPublicKey)
        or key.key_size != 2048
        or key.public_numbers().e != 65537
    ):
        raise E.InvalidRequest("phone keys must be RSA-2048 with e=65537")
    return key


class PortalService:
    """The portal's use cases over one database. Time is always an argument."""

    def __init__(
        self,
        db: Database,
        *,
        authority: CertificateAuthority,
        verifier: DocumentVerifier,
        instruction_key: ec.EllipticCurvePrivateKey,
        manufacturer_roots: Sequence[x509.Certificate],
        config: PortalConfig | None = None,
        randbytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.db = db
        self.authority = authority
        self.verifier = verifier
        self.instruction_key = instruction_key
        self.manufacturer_roots = list(manufacturer_roots)
        self.config = config or PortalConfig()
        self._rand = randbytes
        self.audit = AuditLog(db)
        self._actor = "portal"
        self._roots: dict[Hierarchy, list[x509.Certificate]] = {}
        self._ca_ids: list[str] = []
        # Set when an application of this process has committed its issuance job: the
        # worker loop waits on it instead of only polling (api/portal ``run_worker``).
        self._jobs_queued = threading.Event()
        self._attestations = AttestationCertificates()

    def wake(self) -> None:
        """Wake a worker waiting in :meth:`wait_for_jobs` (a job was queued, or it must stop)."""
        self._jobs_queued.set()

    def wait_for_jobs(self, timeout: float) -> bool:
        """Wait until an application of this process queues a job (True) or ``timeout``
        seconds pass (False: jobs queued by other processes are found by polling).

        Cleared after the wait, before the caller's next pass: a job committed after the
        clear sets the event again, and one committed before it is seen by that pass."""
        woke = self._jobs_queued.wait(timeout)
        self._jobs_queued.clear()
        return woke

    def roots(self, hierarchy: Hierarchy, *, refresh: bool = False) -> list[x509.Certificate]:
        """Every generation's root of ``hierarchy`` (signers are matched by key id). Cached:
        roots only ever get added (a new generation), so a miss re-reads them once."""
        if refresh or hierarchy not in self._roots:
            cas = self.authority.cas()
            self._roots = {h: [c.certificate for c in cas if c.hierarchy is h] for h in Hierarchy}
            self._ca_ids = [c.ca_id for c in cas]
        return self._roots[hierarchy]

    def _ready_ca(self, now: dt.datetime) -> None:
        """Let the CA roll its OCSP responders over BEFORE we open a write transaction: a
        rollover writes in a transaction of its own, which on SQLite would wait for ours (one
        writer at a time) and time out. A no-op from memory when nothing is due."""
        self.roots(Hierarchy.SIGN)
        for ca_id in self._ca_ids:
            self.authority.ensure_responder(ca_id, now)

    # --- small helpers --------------------------------------------------------------------
    def _id(self) -> str:
        return self._rand(16).hex()

    def _lock_person(self, s: Session, person_id: str) -> Person:
        person = s.execute(
            self.db.lock(select(Person).where(Person.id == person_id))
        ).scalar_one_or_none()
        if person is None:
            raise E.NotFound("no such person")
        return person

    def _device(self, s: Session, device_id: str) -> Device:
        device = s.get(Device, device_id)
        if device is None:
            raise E.NotFound("no such device")
        return device

    def _phone_certs(self, s: Session, device_id: str) -> list[Certificate]:
        stmt = select(Certificate).where(
            Certificate.device_id == device_id, Certificate.kind.in_([k.value for k in PHONE_KINDS])
        )
        return list(s.scalars(stmt))

    # --- operators ------------------------------------------------------------------------
    def create_api_key(self, *, name: str, role: str, now: dt.datetime) -> tuple[str, str]:
        """A new operator key; returns (key id, the secret shown once)."""
        if role not in ROLES:
            raise E.InvalidRequest(f"role must be one of {', '.join(ROLES)}")
        key_id = self._rand(8).hex()
        secret = f"mjk_{key_id}_{self._rand(32).hex()}"
        with self.db.transaction() as s:
            s.add(ApiKey(id=key_id, name=name, role=role, key_hash=_sha256(secret), created_at=now))
            self.audit.record(
                s,
                at=now,
                actor="admin",
                action="portal.api-key.create",
                obj=f"api-key:{key_id}",
                payload={"role": role},
            )
        return key_id, secret

    def authenticate_operator(self, secret: str, *, now: dt.datetime) -> OperatorRef:
        digest = _sha256(secret)
        with self.db.transaction(write=False) as s:
            row = s.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
            # The lookup is by hash; compare again in constant time so a timing channel on the
            # index lookup cannot reveal a prefix of a valid hash.
            if (
                row is None
                or row.revoked_at is not None
                or not hmac.compare_digest(row.key_hash, digest)
            ):
                raise E.Unauthenticated("unknown or revoked API key")
            return OperatorRef(row.id, row.role)

    def register_person(
        self, op: OperatorRef, *, facts: BasicFourFacts, locality: Locality, now: dt.datetime
    ) -> str:
        op.require(ROLE_OFFICE)
        person_id = self._id()
        with self.db.transaction() as s:
            s.add(
                Person(
                    id=person_id,
                    facts_json=facts_to_json(facts, locality),
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            self.audit.record(
                s,
                at=now,
                actor=op.actor,
                action="portal.person.register",
                obj=f"person:{person_id}",
            )
        return person_id

    def register_card(
        self,
        op: OperatorRef,
        *,
        person_id: str,
        applet_serial: bytes,
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> str:
        """Record a card being personalised at the office; its keys are certified next."""
        op.require(ROLE_OFFICE)
        if expires_at <= now:
            raise E.InvalidRequest("the card is already expired")
        if len(applet_serial) != 16:
            raise E.InvalidRequest("an applet serial is 16 bytes")
        card_id = self._id()
        with self.db.transaction() as s:
            self._lock_person(s, person_id)
            if s.scalars(select(Card).where(Card.applet_serial == applet_serial.hex())).first():
                raise E.Conflict("this card is already registered")
            s.add(
                Card(
                    id=card_id,
                    person_id=person_id,
                    applet_serial=applet_serial.hex(),
                    status=CardStatus.ACTIVE.value,
                    expires_at=expires_at,
                    created_at=now,
                )
            )
            self.audit.record(
                s,
                at=now,
                actor=op.actor,
                action="portal.card.register",
                obj=f"card:{card_id}",
                payload={"person": person_id},
            )
        return card_id

    def certify_card_key(
        self,
        op: OperatorRef,
        *,
        card_id: str,
        kind: CertKind,
        public_key: rsa.RSAPublicKey,
        now: dt.datetime,
    ) -> x509.Certificate:
        """Certify a key the card generated on chip (the office terminal drives the card
        through APDUs: ``reader.personalise_card`` calls this per key, auth first). Validity
        per :func:`~mobile_jpki.pki.validity.card_validity`: 5th birthday, card expiry, the
        signing certificate capped by the auth one; none for signing under 15."""
        op.require(ROLE_OFFICE)
        if kind not in (CertKind.CARD_SIGN, CertKind.CARD_AUTH):
            raise E.InvalidRequest("a card holds card-sign and card-auth certificates")
        self._ready_ca(now)
        with self.db.transaction() as s:
            card = s.get(Card, card_id)
            if card is None:
                raise E.NotFound("no such card")
            person = self._lock_person(s, card.person_id)
            if card.status != CardStatus.ACTIVE.value:
                raise E.Conflict("the card was replaced")
            current = card.sign_serial if kind is CertKind.CARD_SIGN else card.auth_serial
            if current is not None:
                raise E.Conflict(f"the card already has its {kind.value} certificate")
            facts, locality = facts_from_json(person.facts_json)
            signing = kind is CertKind.CARD_SIGN
            auth_end = None
            if signing:
                auth_row = s.get(Certificate, card.auth_serial) if card.auth_serial else None
                if auth_row is None:
                    raise E.Conflict("certify the auth key first (the signing one is capped by it)")
                auth_end = auth_row.not_after
            try:
                nb, end = card_validity(
                    date_of_birth=facts.date_of_birth,
                    now=now,
                    card_expires=card.expires_at,
                    signing=signing,
                    auth_not_after=auth_end,
                )
            except EligibilityError:
                raise E.NotEligible("signing certificates are issued from age 15") from None
            except ValidityError as exc:
                raise E.InvalidRequest(str(exc)) from None
            info = self.authority.issue(
                IssueOrder(
                    kind,
                    public_key,
                    self._id(),
                    nb,
                    end,
                    facts=facts if signing else None,
                    locality=locality if signing else None,
                    person_id=person.id,
                    card_id=card.id,
                ),
                now,
                actor=op.actor,
                session=s,
            )
            if signing:
                card.sign_serial = serial_hex(info.serial)
            else:
                card.auth_serial = serial_hex(info.serial)
            self.audit.record(
                s,
                at=now,
                actor=op.actor,
                action="portal.card.certify",
                obj=f"card:{card.id}",
                payload={"kind": kind.value, "serial": serial_hex(info.serial)},
            )
            return info.certificate

    def change_facts(
        self,
        op: OperatorRef,
        *,
        person_id: str,
        facts: BasicFourFacts,
        locality: Locality,
        now: dt.datetime,
    ) -> list[int]:
        """異動: new facts; every signing certificate of the person, card and phone, is revoked
        with affiliationChanged (RFC 5280 §5.3.1); authentication certificates survive."""
        op.require(ROLE_OFFICE)
        revoked: list[int] = []
        self._ready_ca(now)
        with self.db.transaction() as s:
            person = self._lock_person(s, person_id)
            person.facts_json = facts_to_json(facts, locality)
            person.version += 1
            person.updated_at = now
            kinds = [CertKind.CARD_SIGN.value]
            if self.config.move_revokes_phone_signing:
                kinds.append(CertKind.PHONE_SIGN.value)
            stmt = select(Certificate).where(
                Certificate.person_id == person_id,
                Certificate.kind.in_(kinds),
                Certificate.status != CertStatus.REVOKED.value,
            )
            for cert in s.scalars(stmt).all():
                serial = int(cert.serial, 16)
                self.authority.revoke(
                    serial, Reason.AFFILIATION_CHANGED, now, actor=op.actor, session=s
                )
                revoked.append(serial)
                if cert.device_id:
                    self._notify_changed(s, cert.device_id, now)
            self.audit.record(
                s,
                at=now,
                actor=op.actor,
                action="portal.person.move",
                obj=f"person:{person_id}",
                payload={"revoked": [serial_hex(x) for x in revoked]},
            )
        return revoked

    def replace_card(self, op: OperatorRef, *, card_id: str, now: dt.datetime) -> list[int]:
        """Card renewal or replacement: the card's certificates and every phone certificate of
        the person are revoked (superseded); the phone must apply again with the new card."""
        op.require(ROLE_OFFICE)
        revoked: list[int] = []
        self._ready_ca(now)
        with self.db.transaction() as s:
            card = s.get(Card, card_id)
            if card is None:
                raise E.NotFound("no such card")
            self._lock_person(s, card.person_id)
            if card.status != CardStatus.ACTIVE.value:
                raise E.Conflict("the card was already replaced")
            card.status = CardStatus.REPLACED.value
            for serial in (card.sign_serial, card.auth_serial):
                if serial:
                    row = s.get(Certificate, serial)
                    if row is not None and row.status != CertStatus.REVOKED.value:
                        self.authority.revoke(
                            int(serial, 16), Reason.SUPERSEDED, now, actor=self._actor, session=s
                        )
                        revoked.append(int(serial, 16))
            holders = [
                _ref(d)
                for d in s.scalars(
                    select(Device).where(Device.person_id == card.person_id, Device.holder)
                )
            ]
            revoked += self._retire_devices(
                s,
                holders,
                self._unrevoked(s, [], [d.id for d in holders]),
                Reason.SUPERSEDED,
                "card-replaced",
                now,
            )
            self.audit.record(
                s,
                at=now,
                actor=op.actor,
                action="portal.card.replace",
                obj=f"card:{card_id}",
                payload={"revoked": [serial_hex(x) for x in revoked]},
            )
        return revoked

    def hold_phone(self, op: OperatorRef, *, person_id: str, now: dt.datetime) -> list[int]:
        """Hotline 一時利用停止: every good phone certificate of the person goes on hold."""
        op.require(ROLE_HOTLINE, ROLE_OFFICE)
        held: list[int] = []
        self._ready_ca(now)
        with self.db.transaction() as s:
            self._lock_person(s, person_id)
            stmt = select(Certificate).where(
                Certificate.person_id == person_id,
                Certificate.kind.in_([k.value for k in PHONE_KINDS]),
                Certificate.status == CertStatus.GOOD.value,
            )
            for cert in s.scalars(stmt).all():
                self.authority.hold(int(cert.serial, 16), now, actor=self._actor, session=s)
                held.append(int(cert.serial, 16))
                if cert.device_id:
                    self._notify_changed(s, cert.device_id, now)
            self.audit.record(
                s,
                at=now,
                actor=op.actor,
                action="portal.phone.hold",
                obj=f"person:{person_id}",
                payload={"held": [serial_hex(x) for x in held]},
            )
        return held

    # --- devices --------------------------------------------------------------------------
    def enrol_device(
        self, *, attestation_der: bytes, push_channel: str, now: dt.datetime
    ) -> Enrolment:
        """Register a secure element by its factory attestation certificate, which must chain
        to a configured manufacturer root. The credential authenticates later calls."""
        try:
            x509.load_der_x509_certificate(attestation_der)
        except ValueError:
            raise E.InvalidRequest("the attestation certificate is not DER X.509") from None
        try:
            # Checked as every application checks it (and remembered: the first application
            # then finds it chained already).
            cert = self._attestations.check(attestation_der, self.manufacturer_roots, now=now)
            serial = element_serial(cert)
        except AttestationError as exc:
            raise E.AttestationInvalid(str(exc)) from None
        if push_channel not in ("inprocess", "sse", "none"):
            raise E.InvalidRequest("push_channel must be inprocess, sse or none")
        device_id = self._id()
        secret = self._rand(32).hex()
        with self.db.transaction() as s:
            s.add(
                Device(
                    id=device_id,
                    element_serial=serial.hex(),
                    attestation_der=attestation_der,
                    credential_hash=_sha256(secret),
                    push_channel=push_channel,
                    push_enabled=push_channel != "none",
                    holder=False,
                    failed_auth=0,
                    created_at=now,
                )
            )
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.device.enrol",
                obj=f"device:{device_id}",
                payload={"channel": push_channel},
            )
        return Enrolment(device_id, f"{device_id}.{secret}")

    @staticmethod
    def _issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
        try:
            cert.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def authenticate_device(self, credential: str, *, now: dt.datetime) -> str:
        """Check ``<device_id>.<secret>``; ``credential_failures`` wrong secrets lock the
        device's credential for ``credential_window``."""
        device_id, _, secret = credential.partition(".")
        if not device_id or not secret or len(device_id) > 64:
            raise E.Unauthenticated("malformed device credential")
        with self.db.transaction(write=False) as s:
            device = s.get(Device, device_id)
            if device is None:
                raise E.Unauthenticated("unknown device")
            locked_until = device.locked_until
            ok = hmac.compare_digest(device.credential_hash, _sha256(secret))
            failures = device.failed_auth
        if locked_until is not None and locked_until > now:
            # Retry-After (RFC 9110 §10.2.3) like every other 429 of the portal.
            raise E.RateLimited(
                "too many wrong credentials; the device is locked for a while",
                retry_after=int((locked_until - now).total_seconds()) + 1,
            )
        if ok:
            if failures:
                # A right secret resets the count (as a PIN counter does); written only then,
                # so the common path stays read-only.
                with self.db.transaction() as s:
                    _need(s.get(Device, device_id)).failed_auth = 0
            return device_id
        with self.db.transaction() as s:
            device = _need(s.get(Device, device_id))
            device.failed_auth += 1
            if device.failed_auth >= self.config.credential_failures:
                device.failed_auth = 0
                device.locked_until = now + self.config.credential_window
                self.audit.record(
                    s,
                    at=now,
                    actor=f"device:{device_id}",
                    action="portal.device.locked",
                    obj=f"device:{device_id}",
                )
        raise E.Unauthenticated("wrong device credential")

    def new_nonce(self, device_id: str, *, purpose: str, now: dt.datetime) -> str:
        value = self._rand(32).hex()
        with self.db.transaction() as s:
            self._device(s, device_id)
            s.add(
                Nonce(
                    value=value,
                    device_id=device_id,
                    purpose=purpose,
                    created_at=now,
                    expires_at=now + self.config.nonce_validity,
                )
            )
        return value

    def _use_nonce(
        self, s: Session, value: str, device_id: str, purpose: str, now: dt.datetime
    ) -> None:
        """Mark the nonce used (one UPDATE naming every condition); on a refusal, say which
        condition failed."""
        conn = s.connection()
        if Q.use_nonce(conn, value, device_id, purpose, now):
            return
        state = Q.nonce_state(conn, value)
        if state is None or state.device_id != device_id or state.purpose != purpose:
            raise E.NonceUnknown("this nonce was not issued to this device for this purpose")
        if state.used_at is not None:
            raise E.NonceUsed("this signed request was already submitted")
        raise E.NonceExpired("the nonce has expired")

    def _check_time(self, signed_at: dt.datetime, now: dt.datetime) -> None:
        if abs(signed_at - now) > self.config.signing_skew:
            raise E.StaleSignature("signed_at is too far from the service's time")

    # --- card-signed documents ------------------------------------------------------------
    def _check_signing_root(self, signer: x509.Certificate) -> None:
        """The signer is issued by a signing root of this CA (matched by key identifier,
        RFC 5280 §4.2.1.1). Signature checks only: run it before opening a transaction."""
        if not any(
            self._issued_by(signer, root) for root in self.roots(Hierarchy.SIGN)
        ) and not any(
            self._issued_by(signer, root) for root in self.roots(Hierarchy.SIGN, refresh=True)
        ):
            raise E.CardCertificateUnknown("the signer does not chain to a signing root")

    def _card_of_signer(
        self, s: Session, signer: x509.Certificate, now: dt.datetime, *, chain_checked: bool = False
    ) -> SigningCard:
        """The card whose signing certificate made the signature: known to the CA (the stored
        DER, one query with its card), issued by a signing root, good and in validity."""
        serial = serial_hex(signer.serial_number)
        row = Q.signer(s.connection(), serial)
        if (
            row is None
            or row.der != signer.public_bytes(serialization.Encoding.DER)
            or row.kind != CertKind.CARD_SIGN.value
        ):
            raise E.CardCertificateUnknown(
                "the signer is not a card signing certificate of this service"
            )
        if not chain_checked:
            self._check_signing_root(signer)
        if row.status == CertStatus.REVOKED.value:
            raise E.CardCertificateRevoked("the card's signing certificate is revoked")
        if row.status == CertStatus.HELD.value:
            raise E.CardCertificateHeld("the card's signing certificate is suspended")
        if not row.not_before <= now <= row.not_after:
            raise E.CardCertificateExpired("the card's signing certificate is not valid now")
        if (
            row.card_id is None
            or row.person_id is None
            or row.card_status != CardStatus.ACTIVE.value
        ):
            raise E.CardCertificateRevoked("the card was replaced")
        return SigningCard(row.card_id, row.person_id, serial)

    # --- application (申請) ---------------------------------------------------------------
    def apply(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> str:
        """Check a card-signed application and queue its issuance job; returns its id.

        ONE transaction: the signer's card is read and the card's rate-limit counter bumped
        first; everything after runs in a SAVEPOINT, so a refusal rolls the application back
        and still commits the count (refused attempts count against the quota)."""
        signed = self.verifier.verify(cms_der)
        doc = parse(ApplicationDoc, signed.content)
        if doc.device_id != device_id:
            raise E.DeviceMismatch("the application names another device")
        if set(doc.keys) != set(doc.certificates) or len(set(doc.certificates)) != len(
            doc.certificates
        ):
            raise E.InvalidRequest("one attested key per requested certificate, no duplicates")
        self._check_time(doc.signed_at, now)
        # Before the transaction: a signature check, no database.
        self._check_signing_root(signed.signer)
        application_id = self._id()
        refusal: E.PortalError | None = None
        with self.db.transaction() as s:
            conn = s.connection()
            # Count only signatures by a real card of ours: the signer certificate must be the
            # stored one (and the CMS verified with it, so the signer holds the card's key).
            # Otherwise anyone could exhaust a card's quota with a made-up certificate that
            # merely copies its serial number. (A refusal here rolls back: nothing counted.)
            card = self._card_of_signer(s, signed.signer, now, chain_checked=True)
            count, window_start = Q.bump(
                conn,
                self.db.is_sqlite,
                f"apply:card:{card.serial}",
                window=self.config.application_window,
                now=now,
            )
            try:
                if count > self.config.applications_per_card:
                    retry = window_start + self.config.application_window - now
                    raise E.RateLimited(
                        "too many attempts", retry_after=int(retry.total_seconds()) + 1
                    )
                if doc.terms_version != self.config.terms_version:
                    raise E.TermsOutdated(
                        f"the current terms are {self.config.terms_version}",
                        current=self.config.terms_version,
                    )
                with s.begin_nested():
                    self._accept(s, doc, cms_der, card, device_id, application_id, now)
                # Recorded after the savepoint, so buffered to the commit: appended inside
                # it, the record would take the audit chain's head lock (PostgreSQL) before
                # the application's inserts and hold it through them.
                self.audit.record(
                    s,
                    at=now,
                    actor=f"device:{device_id}",
                    action="portal.application.accept",
                    obj=f"application:{application_id}",
                    payload={
                        "kind": doc.application.value,
                        "certificates": list(doc.certificates),
                        "card": card.serial,
                        "terms": doc.terms_version,
                        "revoke_other": doc.revoke_other_device,
                    },
                )
            except E.PortalError as exc:
                refusal = exc
            except IntegrityError:
                # The partial unique index on open applications: a concurrent application
                # of the same person committed first.
                refusal = E.ApplicationInProgress(
                    "another application of this person is being processed"
                )
        if refusal is not None:
            raise refusal
        self.wake()  # committed: the worker may claim the job now
        return application_id

    def _accept(
        self,
        s: Session,
        doc: ApplicationDoc,
        cms_der: bytes,
        card: SigningCard,
        device_id: str,
        application_id: str,
        now: dt.datetime,
    ) -> None:
        """The checks under the person's row lock, then the application, its items and its
        job (docs/portal.md "The application document" lists the order); the caller records
        the acceptance once this savepoint is released."""
        conn = s.connection()
        facts_json = Q.lock_person(conn, self.db.is_sqlite, card.person_id)
        if facts_json is None:
            raise E.NotFound("no such person")
        self._use_nonce(s, doc.nonce, device_id, "application", now)
        device = Q.applying_device(conn, device_id, card.person_id)
        if device is None:
            raise E.NotFound("no such device")
        try:
            # Parsed and chained to its manufacturer root once per certificate (cached by its
            # DER); the root still configured, the validity and the serial checked each time.
            attestation = self._attestations.check(
                device.attestation_der,
                self.manufacturer_roots,
                now=now,
                expected_serial=bytes.fromhex(device.element_serial),
            )
        except AttestationError as exc:
            raise E.AttestationInvalid(str(exc)) from None
        items: list[dict[str, object]] = []
        for kind in doc.kinds():
            key = doc.keys[kind.value]  # type: ignore[index]
            spki = key.spki_der()
            _public_key(spki)
            slot = Slot.SIGN if kind is CertKind.PHONE_SIGN else Slot.AUTH
            try:
                # Born in this element for this application: its signature over the nonce.
                verify_attested_key(
                    generated=GeneratedKey(spki, key.attestation_der()),
                    challenge=bytes.fromhex(doc.nonce),
                    slot=slot,
                    attestation_certificate=attestation,
                )
            except AttestationError as exc:
                raise E.AttestationInvalid(f"{kind.value}: {exc}") from None
            items.append(
                {
                    "id": self._id(),
                    "application_id": application_id,
                    "kind": kind.value,
                    "spki_der": spki,
                    "cert_serial": None,
                    "status": ItemStatus.PENDING.value,
                    "install_challenge": self._rand(32).hex(),
                    "installed_at": None,
                }
            )
        facts, _ = facts_from_json(facts_json)
        if CertKind.PHONE_SIGN in doc.kinds():
            try:
                check_signing_eligibility(facts.date_of_birth, now)
            except EligibilityError:
                raise E.NotEligible("signing certificates are issued from age 15") from None
        if device.person_id not in (None, card.person_id) and device.holder:
            raise E.Conflict("this phone holds another person's certificates; revoke them first")
        holder = device.holder_of_person
        if holder is not None and holder != device_id and not doc.revoke_other_device:
            raise E.ConsentRequired(
                "ご自身のスマホ用電子証明書が別端末に登録されています。このまま手続きを進めると"
                "別端末に登録されている証明書は失効されます。",
                other_device=True,
            )
        if device.open_application is not None:
            raise E.ApplicationInProgress("another application of this person is being processed")
        Q.insert_application(
            conn,
            {
                "id": application_id,
                "person_id": card.person_id,
                "card_id": card.card_id,
                "device_id": device_id,
                "kind": doc.application.value,
                "terms_version": doc.terms_version,
                "revoke_other_consent": doc.revoke_other_device,
                "nonce": doc.nonce,
                "status": ApplicationStatus.ACCEPTED.value,
                "failure_code": None,
                "cms_der": cms_der,
                "created_at": now,
                "updated_at": now,
            },
            items,
            {
                "kind": "issue",
                "application_id": application_id,
                "status": JobStatus.QUEUED.value,
                "attempts": 0,
                "run_after": now,
                "last_error": None,
                "created_at": now,
            },
        )

    # --- housekeeping -----------------------------------------------------------------------
    def housekeeping(self, *, now: dt.datetime, keep: dt.timedelta = dt.timedelta(days=7)) -> int:
        """Forget what no longer matters: nonces that expired unused and push messages
        delivered more than ``keep`` ago. Used nonces stay (an application references its
        nonce: the replay evidence). Returns the rows removed."""
        with self.db.transaction() as s:
            stale_nonces = select(Nonce.value).where(
                Nonce.used_at.is_(None), Nonce.expires_at < now - keep
            )
            old_messages = select(OutboxMessage.id).where(
                OutboxMessage.delivered_at.is_not(None), OutboxMessage.delivered_at < now - keep
            )
            nonces = list(s.scalars(stale_nonces))
            messages = list(s.scalars(old_messages))
            if nonces:
                s.execute(delete(Nonce).where(Nonce.value.in_(nonces)))
            if messages:
                s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(messages)))
        return len(nonces) + len(messages)

    # --- issuance jobs --------------------------------------------------------------------
    def run_jobs(self, *, now: dt.datetime, limit: int = 100) -> int:
        """Process due jobs, up to ``jobs_per_transaction`` per transaction; returns how many
        were processed (issued, failed, or put back for a retry)."""
        per_transaction = self.config.jobs_per_transaction or (
            SQLITE_JOBS_PER_TRANSACTION if self.db.is_sqlite else 1
        )
        done = 0
        while done < limit:
            size = min(per_transaction, limit - done)
            processed = self._run_batch(now, size)
            done += processed
            if processed < size:
                break  # the queue is empty for now
        return done

    def _run_batch(self, now: dt.datetime, size: int) -> int:
        """Up to ``size`` due jobs in ONE transaction: group commit, one commit (one fsync)
        and one audit-chain append for the batch instead of one per job. All or nothing: if
        any job of the batch fails, everything rolls back (the claim too) and the batch's
        jobs run again one per transaction (:meth:`_run_one`), where a failure is recorded
        for its own job. Nothing of a batch is visible, pushed or answered by OCSP before its
        commit, so each model change still commits as a whole."""
        if size <= 1:
            return 0 if self._run_one(now) is None else 1
        self._ready_ca(now)
        claimed: list[tuple[int, str]] = []
        try:
            with self.db.transaction() as s, self.authority.signing_later() as later:
                claimed = Q.claim_jobs(s.connection(), self.db.is_sqlite, now, size)
                for _, application_id in claimed:
                    self._issue(s, application_id, now, later)
                return len(claimed)
        except Exception:
            if not claimed:
                raise
        processed = 0
        for _ in claimed:
            if self._run_one(now) is None:
                break
            processed += 1
        return processed

    def _run_one(self, now: dt.datetime) -> str | None:
        self._ready_ca(now)
        job_id: int | None = None
        try:
            with self.db.transaction() as s, self.authority.signing_later() as later:
                one = Q.claim_jobs(s.connection(), self.db.is_sqlite, now, 1)
                if not one:
                    return None
                job_id, application_id = one[0]
                self._issue(s, application_id, now, later)
                return application_id
        except E.PortalError as exc:
            self._fail_application(_need(job_id), exc.code, now)
            return "failed"
        except Exception as exc:
            if job_id is None:
                raise
            self._retry(job_id, exc, now)
            return "retry"

    def _fail_application(self, job_id: int, code: str, now: dt.datetime) -> None:
        with self.db.transaction() as s:
            job = _need(s.get(Job, job_id))
            job.status, job.last_error = JobStatus.FAILED.value, code
            app = _need(s.get(Application, job.application_id))
            app.status, app.failure_code, app.updated_at = ApplicationStatus.FAILED.value, code, now
            device = self._device(s, app.device_id)
            outbox.enqueue(
                s, device, outbox.APPLICATION_FAILED, {"application": app.id, "code": code}, now=now
            )
            self.audit.record(
                s,
                at=now,
                actor="worker",
                action="portal.application.fail",
                obj=f"application:{app.id}",
                payload={"code": code},
            )

    def _retry(self, job_id: int, exc: Exception, now: dt.datetime) -> None:
        with self.db.transaction() as s:
            job = _need(s.get(Job, job_id))
            job.attempts += 1
            job.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if job.attempts >= self.config.job_attempts:
                job.status = JobStatus.FAILED.value
            else:
                job.run_after = now + outbox.backoff(job.attempts)
        if job.status == JobStatus.FAILED.value:
            self._fail_application(job_id, "issuance-failed", now)

    def _issue(
        self, s: Session, application_id: str, now: dt.datetime, later: SignedWrites
    ) -> None:
        """The model-change transaction: revoke what any other device of the person holds
        (superseded), hand that device a deletion instruction valid 48 hours, issue the new
        certificates, make this device the holder, announce 登録準備完了.

        Reads: the person's row lock, then (after it) the application with its card, device
        and items in one query, the person's other holder devices, and every unrevoked
        certificate involved (the card's, the devices') in one query.

        Its RSA signatures (the revoked answers, the certificates and their "good" answers)
        are started as soon as they are known and written by ``later`` before the commit: the
        next job of the batch is read and written while they are signed."""
        conn = s.connection()
        person_id, facts_json = Q.lock_person_of(conn, self.db.is_sqlite, application_id)
        app = Q.issue_state(conn, application_id)
        if app.status != ApplicationStatus.ACCEPTED.value:
            return
        if app.card_status != CardStatus.ACTIVE.value:
            raise E.CardCertificateRevoked("the card was replaced after the application")
        others = Q.other_holders(conn, person_id, app.device_id)
        certs = self._unrevoked(
            s,
            [x for x in (app.card_sign_serial, app.card_auth_serial) if x],
            [app.device_id, *(o.id for o in others)],
        )
        by_serial = {c.serial: c for c in certs}
        limits: dict[CertKind, dt.datetime] = {}
        for kind, serial in (
            (CertKind.PHONE_SIGN, app.card_sign_serial),
            (CertKind.PHONE_AUTH, app.card_auth_serial),
        ):
            row = by_serial.get(serial) if serial else None
            if row is None:  # only unrevoked certificates were read
                raise E.CardCertificateRevoked(
                    f"the card's {kind.hierarchy.value} certificate was revoked after applying"
                )
            if row.status == CertStatus.HELD.value:
                raise E.CardCertificateHeld("the card's certificate is suspended")
            if row.not_after <= now:
                raise E.CardCertificateExpired("the card's certificate expired")
            # Phone certificates never outlive the card certificate they were applied with.
            limits[kind] = row.not_after
        revoked = self._retire_devices(
            s, others, certs, Reason.SUPERSEDED, "model-change", now, later=later
        )
        wanted = {i.kind for i in app.items}
        # Same device applying again: its older certificate of a requested kind is superseded.
        again = [
            int(c.serial, 16)
            for c in certs
            if c.device_id == app.device_id and c.kind in wanted and c.kind in _PHONE_KIND_VALUES
        ]
        if again:
            self.authority.revoke_many(
                again, Reason.SUPERSEDED, now, actor=self._actor, session=s, later=later
            )
            revoked += again
        Q.make_holder(conn, app.device_id, person_id)
        facts, locality = facts_from_json(facts_json)
        orders: list[IssueOrder] = []
        for item in app.items:
            kind = CertKind(item.kind)
            sign = kind is CertKind.PHONE_SIGN
            try:
                nb, end = phone_validity(
                    now=now,
                    card_certificate_not_after=limits[kind],
                    date_of_birth=facts.date_of_birth,
                    signing=sign,
                )
            except EligibilityError:
                raise E.NotEligible("signing certificates are issued from age 15") from None
            except ValidityError as exc:
                raise E.CardCertificateExpired(str(exc)) from None
            orders.append(
                IssueOrder(
                    kind,
                    _public_key(item.spki_der),
                    self._id(),
                    nb,
                    end,
                    facts=facts if sign else None,
                    locality=locality if sign else None,
                    person_id=person_id,
                    card_id=app.card_id,
                    device_id=app.device_id,
                )
            )
        # Both certificates with their pre-signed OCSP "good" answers, in this transaction.
        issued_serials = self.authority.issue_later(
            orders, now, actor=self._actor, session=s, later=later
        )
        serials = {
            item.id: serial_hex(serial)
            for item, serial in zip(app.items, issued_serials, strict=True)
        }
        issued = {item.kind: serials[item.id] for item in app.items}
        Q.application_ready(conn, application_id, serials, now)
        device = Q.DeviceRef(app.device_id, app.element_serial, app.push_enabled)
        Q.enqueue(
            conn,
            [
                Q.outbox_row(
                    device,
                    outbox.REGISTRATION_READY,
                    {"application": application_id, "certificates": sorted(issued)},
                    now,
                )
            ],
        )
        self.audit.record(
            s,
            at=now,
            actor="worker",
            action="portal.application.issue",
            obj=f"application:{application_id}",
            payload={
                "issued": [f"{k}:{v}" for k, v in sorted(issued.items())],
                "superseded": [serial_hex(x) for x in revoked],
            },
        )

    @staticmethod
    def _unrevoked(
        s: Session, serials: Sequence[str], devices: Sequence[str]
    ) -> list[Q.UnrevokedCertificate]:
        """The unrevoked certificates among ``serials`` and those of ``devices``."""
        return Q.unrevoked_certificates(s.connection(), serials, devices)

    def _retire_devices(
        self,
        s: Session,
        devices: Sequence[Q.DeviceRef],
        certs: Sequence[Q.UnrevokedCertificate],
        reason: Reason,
        why: str,
        now: dt.datetime,
        *,
        later: SignedWrites | None = None,
    ) -> list[int]:
        """Revoke every unrevoked phone certificate of ``devices`` (among ``certs``, which
        must hold them all), stop them being holders, supersede their unfinished applications
        and queue a signed deletion instruction valid ``deletion_window`` from now for each
        that had any (docs/apdu.md "Signed management instructions")."""
        if not devices:
            return []
        per_device: dict[str, list[Q.UnrevokedCertificate]] = {d.id: [] for d in devices}
        for cert in sorted(certs, key=lambda c: c.serial):
            if cert.device_id in per_device and cert.kind in _PHONE_KIND_VALUES:
                if cert.status != CertStatus.REVOKED.value:
                    per_device[cert.device_id].append(cert)
        revoked = [int(c.serial, 16) for d in devices for c in per_device[d.id]]
        # One batch: the rows locked in one statement, their answers and CRL changes written
        # with one executemany each.
        self.authority.revoke_many(revoked, reason, now, actor=self._actor, session=s, later=later)
        conn = s.connection()
        Q.retire(conn, [d.id for d in devices], now)
        not_after = now + self.config.deletion_window
        for device in devices:
            if per_device[device.id]:
                self._queue_instruction(
                    s, device, Action.DELETE_SIGN | Action.DELETE_AUTH, why, not_after, now
                )
            self.audit.record(
                s,
                at=now,
                actor="service",
                action="portal.device.retire",
                obj=f"device:{device.id}",
                payload={
                    "reason": int(reason),
                    "why": why,
                    "revoked": [c.serial for c in per_device[device.id]],
                },
            )
        return revoked

    def _queue_instruction(
        self,
        s: Session,
        device: Q.DeviceRef,
        actions: Action,
        why: str,
        not_after: dt.datetime,
        now: dt.datetime,
        challenge: bytes | None = None,
        *,
        delivered: bool = False,
    ) -> bytes:
        """A signed instruction for ``device`` (and, unless challenge-bound, its
        ``deletion-pending`` push); returns the instruction."""
        body = build_instruction(
            key=self.instruction_key,
            target_serial=bytes.fromhex(device.element_serial),
            actions=actions,
            not_after=not_after,
            challenge=challenge,
        )
        instruction_id = self._id()
        conn = s.connection()
        Q.insert_instructions(
            conn,
            [
                {
                    "id": instruction_id,
                    "device_id": device.id,
                    "actions": int(actions),
                    "instruction": body,
                    "not_after": not_after,
                    "reason": why,
                    "created_at": now,
                    "delivered_at": now if delivered else None,
                    "acknowledged_at": None,
                }
            ],
        )
        if challenge is None:
            Q.enqueue(
                conn,
                [
                    Q.outbox_row(
                        device,
                        outbox.DELETION_PENDING,
                        {"instruction": instruction_id, "not_after": not_after.isoformat()},
                        now,
                    )
                ],
            )
        return body

    def _notify_changed(self, s: Session, device_id: str, now: dt.datetime) -> None:
        device = s.get(Device, device_id)
        if device is not None:
            outbox.enqueue(s, device, outbox.CERTIFICATES_CHANGED, {}, now=now)

    # --- registration (登録) ---------------------------------------------------------------
    def registrations(self, device_id: str) -> list[Registration]:
        """Certificates ready to be written into this device's element."""
        with self.db.transaction(write=False) as s:
            stmt = (
                select(ApplicationItem, Certificate)
                .join(Application, Application.id == ApplicationItem.application_id)
                .join(Certificate, Certificate.serial == ApplicationItem.cert_serial)
                .where(
                    Application.device_id == device_id,
                    ApplicationItem.status == ItemStatus.READY.value,
                )
                .order_by(ApplicationItem.kind)
            )
            return [
                Registration(
                    item.id,
                    item.application_id,
                    CertKind(item.kind),
                    x509.load_der_x509_certificate(cert.der),
                    bytes.fromhex(item.install_challenge),
                )
                for item, cert in s.execute(stmt).all()
            ]

    def complete_registration(
        self, device_id: str, item_id: str, signature: bytes, *, now: dt.datetime
    ) -> str:
        """The element proves the certificate's key is installed: the key signs the item's
        challenge (PKCS#1 v1.5, SHA-256, as COMPUTE DIGITAL SIGNATURE does). Returns the
        application's status afterwards."""
        with self.db.transaction() as s:
            item = s.get(ApplicationItem, item_id)
            app = s.get(Application, item.application_id) if item else None
            if item is None or app is None or app.device_id != device_id:
                raise E.NotFound("no such registration for this device")
            self._lock_person(s, app.person_id)
            if item.status == ItemStatus.INSTALLED.value:
                return app.status  # idempotent: a repeated proof changes nothing
            if item.status != ItemStatus.READY.value or item.cert_serial is None:
                raise E.Conflict(f"this certificate is {item.status}, not ready to register")
            cert = _need(s.get(Certificate, item.cert_serial))
            key = x509.load_der_x509_certificate(cert.der).public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise E.Conflict("not an RSA certificate")
            try:
                key.verify(
                    signature,
                    registration_message(item.id, bytes.fromhex(item.install_challenge)),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
            except InvalidSignature:
                raise E.RegistrationProofInvalid(
                    "the signature is not by the issued certificate's key"
                ) from None
            item.status, item.installed_at = ItemStatus.INSTALLED.value, now
            remaining = s.scalars(
                select(ApplicationItem).where(
                    ApplicationItem.application_id == app.id,
                    ApplicationItem.status != ItemStatus.INSTALLED.value,
                )
            ).first()
            if remaining is None:
                app.status = ApplicationStatus.REGISTERED.value
            app.updated_at = now
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.registration.complete",
                obj=f"certificate:{item.cert_serial}",
            )
            return app.status

    # --- instructions (the 48-hour deletion) ----------------------------------------------
    def pending_instructions(self, device_id: str, *, now: dt.datetime) -> list[PendingInstruction]:
        """Instructions still valid for this device. After ``not_after`` the service no longer
        hands them out (and the element would refuse them: 69 82)."""
        with self.db.transaction() as s:
            rows = s.scalars(
                select(DeviceInstruction)
                .where(
                    DeviceInstruction.device_id == device_id,
                    DeviceInstruction.acknowledged_at.is_(None),
                    DeviceInstruction.not_after > now,
                )
                .order_by(DeviceInstruction.created_at)
            ).all()
            out = []
            for row in rows:
                if row.delivered_at is None:
                    row.delivered_at = now
                out.append(
                    PendingInstruction(
                        row.id, row.actions, row.instruction, row.not_after, row.reason
                    )
                )
            return out

    def acknowledge_instruction(
        self, device_id: str, instruction_id: str, *, now: dt.datetime
    ) -> None:
        with self.db.transaction() as s:
            row = s.get(DeviceInstruction, instruction_id)
            if row is None or row.device_id != device_id:
                raise E.NotFound("no such instruction for this device")
            if row.acknowledged_at is not None:
                return
            if now > row.not_after:
                raise E.InstructionExpired("the instruction expired before it was carried out")
            row.acknowledged_at = now
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.instruction.ack",
                obj=f"instruction:{row.id}",
                payload={"actions": row.actions, "reason": row.reason},
            )

    # --- revocation, hold release, password reset -----------------------------------------
    def revoke_from_phone(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> list[int]:
        """失効 from the phone: signed by this phone's own key (after its password)."""
        signed = self.verifier.verify(cms_der)
        doc = parse(RevocationDoc, signed.content)
        if doc.type is not DocType.PHONE_REVOCATION or doc.device_id != device_id:
            raise E.DeviceMismatch("not a revocation of this device")
        self._check_time(doc.signed_at, now)
        revoked: list[int] = []
        self._ready_ca(now)
        with self.db.transaction() as s:
            row = s.get(Certificate, serial_hex(signed.signer.serial_number))
            if (
                row is None
                or row.device_id != device_id
                or row.der != signed.signer.public_bytes(serialization.Encoding.DER)
                or row.status == CertStatus.REVOKED.value
            ):
                raise E.SignatureInvalid("not signed by a current phone certificate of this device")
            if row.person_id is None:
                raise E.SignatureInvalid("not a certificate of a person")
            self._lock_person(s, row.person_id)
            self._use_nonce(s, doc.nonce, device_id, "revocation", now)
            device = self._device(s, device_id)
            wanted = set(doc.certificates)
            for cert in self._phone_certs(s, device_id):
                if cert.kind in wanted and cert.status != CertStatus.REVOKED.value:
                    self.authority.revoke(
                        int(cert.serial, 16),
                        Reason.CESSATION_OF_OPERATION,
                        now,
                        actor=self._actor,
                        session=s,
                    )
                    revoked.append(int(cert.serial, 16))
            s.flush()
            if all(c.status == CertStatus.REVOKED.value for c in self._phone_certs(s, device_id)):
                device.holder = False
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.phone.revoke",
                obj=f"device:{device_id}",
                payload={"revoked": [serial_hex(x) for x in revoked]},
            )
        return revoked

    def revoke_other_device(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> list[int]:
        """My page → 別のスマホのスマホ用電子証明書 → 失効: card-signed; the other phone's
        certificates are revoked and it gets the 48-hour deletion instruction."""
        signed = self.verifier.verify(cms_der)
        doc = parse(RevocationDoc, signed.content)
        if doc.type is not DocType.REVOKE_OTHER_DEVICE or doc.device_id != device_id:
            raise E.DeviceMismatch("not a revocation request of this device")
        self._check_time(doc.signed_at, now)
        revoked: list[int] = []
        self._ready_ca(now)
        with self.db.transaction() as s:
            card = self._card_of_signer(s, signed.signer, now)
            self._lock_person(s, card.person_id)
            self._use_nonce(s, doc.nonce, device_id, "revocation", now)
            others = Q.other_holders(s.connection(), card.person_id, device_id)
            if not others:
                raise E.NotFound("no other phone holds certificates of this person")
            revoked += self._retire_devices(
                s,
                others,
                self._unrevoked(s, [], [o.id for o in others]),
                Reason.CESSATION_OF_OPERATION,
                "revoked-from-my-page",
                now,
            )
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.phone.revoke-other",
                obj=f"person:{card.person_id}",
                payload={"revoked": [serial_hex(x) for x in revoked]},
            )
        return revoked

    def release_hold(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> dict[str, str]:
        """Release of a hotline suspension from the app (card-signed): the auth certificate is
        un-held; the signing certificate is revoked (superseded) and must be applied for and
        registered again — the device gets an instruction deleting its signing slot so the
        element accepts a new key there. Returns {kind: "released" | "reapply"}."""
        signed = self.verifier.verify(cms_der)
        doc = parse(ReleaseDoc, signed.content)
        if doc.device_id != device_id:
            raise E.DeviceMismatch("not a release request of this device")
        self._check_time(doc.signed_at, now)
        result: dict[str, str] = {}
        self._ready_ca(now)
        with self.db.transaction() as s:
            card = self._card_of_signer(s, signed.signer, now)
            self._lock_person(s, card.person_id)
            self._use_nonce(s, doc.nonce, device_id, "release", now)
            device = self._device(s, device_id)
            if device.person_id != card.person_id:
                raise E.Forbidden("this phone is not the card holder's")
            for cert in self._phone_certs(s, device_id):
                if cert.status != CertStatus.HELD.value:
                    continue
                if cert.kind == CertKind.PHONE_AUTH.value:
                    self.authority.release_hold(
                        int(cert.serial, 16), now, actor=self._actor, session=s
                    )
                    result[cert.kind] = "released"
                else:
                    self.authority.revoke(
                        int(cert.serial, 16), Reason.SUPERSEDED, now, actor=self._actor, session=s
                    )
                    self._queue_instruction(
                        s,
                        _ref(device),
                        Action.DELETE_SIGN,
                        "reissue-signing",
                        now + self.config.deletion_window,
                        now,
                    )
                    result[cert.kind] = "reapply"
            if not result:
                raise E.Conflict("no suspended certificate on this phone")
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.phone.release",
                obj=f"device:{device_id}",
                payload=result,
            )
        return result

    def password_reset(self, device_id: str, cms_der: bytes, *, now: dt.datetime) -> bytes:
        """初期化: a card-signed request returns a reset instruction bound to the element's
        challenge; the app appends the new secret (C1/C2) and sends it to the element."""
        signed = self.verifier.verify(cms_der)
        doc = parse(ResetDoc, signed.content)
        if doc.device_id != device_id:
            raise E.DeviceMismatch("not a reset request of this device")
        self._check_time(doc.signed_at, now)
        with self.db.transaction() as s:
            card = self._card_of_signer(s, signed.signer, now)
            self._lock_person(s, card.person_id)
            self._use_nonce(s, doc.nonce, device_id, "reset", now)
            device = self._device(s, device_id)
            if device.person_id != card.person_id or not device.holder:
                raise E.Forbidden("this phone holds no certificates of the card holder")
            action = (
                Action.RESET_SIGN_PASSWORD
                if doc.certificate == "phone-sign"
                else Action.RESET_AUTH_PIN
            )
            instruction = self._queue_instruction(
                s,
                _ref(device),
                action,
                "password-reset",
                now + self.config.reset_validity,
                now,
                challenge=bytes.fromhex(doc.element_challenge),
                delivered=True,  # handed over in this very answer
            )
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.phone.reset",
                obj=f"device:{device_id}",
                payload={"certificate": doc.certificate},
            )
            return instruction

    # --- reading ----------------------------------------------------------------------------
    def certificate_states(self, device_id: str) -> list[CertificateState]:
        """有効性確認: the status of every phone certificate issued to this device."""
        with self.db.transaction(write=False) as s:
            self._device(s, device_id)
            installed = {
                i.cert_serial
                for i in s.scalars(
                    select(ApplicationItem)
                    .join(Application, Application.id == ApplicationItem.application_id)
                    .where(
                        Application.device_id == device_id,
                        ApplicationItem.status == ItemStatus.INSTALLED.value,
                    )
                )
            }
            return [
                CertificateState(
                    CertKind(c.kind),
                    int(c.serial, 16),
                    c.status,
                    c.reason,
                    c.not_after,
                    c.serial in installed,
                )
                for c in sorted(self._phone_certs(s, device_id), key=_age)
            ]

    def my_page(self, device_id: str) -> MyPage:
        with self.db.transaction(write=False) as s:
            device = self._device(s, device_id)
            closed = (ApplicationStatus.SUPERSEDED.value, ApplicationStatus.FAILED.value)
            # Oldest first; within one second a closed application is the older one.
            apps = sorted(
                s.scalars(select(Application).where(Application.device_id == device_id)),
                key=lambda a: (a.created_at, a.status not in closed),
            )
            states: dict[CertKind, str] = {k: "none" for k in PHONE_KINDS}
            for app in apps:
                for item in s.scalars(
                    select(ApplicationItem).where(ApplicationItem.application_id == app.id)
                ):
                    kind = CertKind(item.kind)
                    if item.status == ItemStatus.READY.value:
                        states[kind] = "registration-ready"
                    elif item.status == ItemStatus.INSTALLED.value:
                        states[kind] = "registered"
                    elif item.status == ItemStatus.PENDING.value:
                        states[kind] = "pending"
                    elif item.status == ItemStatus.REVOKED.value:
                        states[kind] = "revoked"
            for cert in self._phone_certs(s, device_id):
                kind = CertKind(cert.kind)
                if cert.status == CertStatus.HELD.value:
                    states[kind] = "held"
                elif cert.status == CertStatus.REVOKED.value and states[kind] in (
                    "registered",
                    "registration-ready",
                ):
                    latest = max(
                        (c for c in self._phone_certs(s, device_id) if c.kind == cert.kind),
                        key=_age,
                    )
                    if latest.serial == cert.serial:
                        states[kind] = "revoked"
            return MyPage(
                device_id,
                device.holder,
                device.push_enabled,
                [MyPageEntry(k, v, LABELS[v]) for k, v in states.items()],
                [(a.id, a.status) for a in apps],
            )

    def set_push(self, device_id: str, *, enabled: bool, now: dt.datetime) -> None:
        with self.db.transaction() as s:
            device = self._device(s, device_id)
            if enabled and device.push_channel == "none":
                raise E.Conflict("this device enrolled without a push channel")
            device.push_enabled = enabled
            self.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.device.push",
                obj=f"device:{device_id}",
                payload={"enabled": enabled},
            )

    def holders(self, person_id: str) -> list[str]:
        """Devices of the person that hold unrevoked phone certificates (checks the CA's rows,
        not the holder flag: what the invariant is about)."""
        with self.db.transaction(write=False) as s:
            stmt = (
                select(Certificate.device_id)
                .where(
                    Certificate.person_id == person_id,
                    Certificate.kind.in_([k.value for k in PHONE_KINDS]),
                    Certificate.status != CertStatus.REVOKED.value,
                )
                .distinct()
            )
            return sorted(d for d in s.scalars(stmt) if d is not None)
