"""What every use case of the portal shares: :class:`Context` (the database, the CA port, the
configuration, the audit log, randomness …) and the small helpers over it.

Each use-case module (``operators``, ``registry``, ``devices``, ``applications``, ``jobs``,
``suspension``, ``revocation``, ``instructions``, ``registration``, ``views``) is a set of
functions whose first argument is the context; :class:`~.service.PortalService` composes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy.orm import Session

from mobile_jpki.pki.identity import BasicFourFacts, Locality, Sex
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.push import outbox
from mobile_jpki.service.audit import AuditLog
from mobile_jpki.store.db import Database
from mobile_jpki.store.portal import Device, Person

from . import errors as E
from . import repo as Q
from .attestations import AttestationCertificates
from .config import PortalConfig
from .limits import CredentialFailures
from .ports import Authority, DocumentVerifier

_T = TypeVar("_T")
PHONE_KINDS = (CertKind.PHONE_SIGN, CertKind.PHONE_AUTH)
PHONE_KIND_VALUES = frozenset(k.value for k in PHONE_KINDS)
#: The actor of the CA changes the portal makes on its own account (audit).
ACTOR = "portal"


class Context:
    """The portal's shared state over one database. Time is always an argument.

    ``config`` may be replaced and ``manufacturer_roots`` changed in place while the service
    runs (tests do both): every use case reads them here on each call."""

    def __init__(
        self,
        db: Database,
        *,
        authority: Authority,
        verifier: DocumentVerifier,
        instruction_key: ec.EllipticCurvePrivateKey,
        manufacturer_roots: list[x509.Certificate],
        config: PortalConfig,
        randbytes: Callable[[int], bytes],
    ) -> None:
        self.db = db
        self.authority = authority
        self.verifier = verifier
        self.instruction_key = instruction_key
        self.manufacturer_roots = manufacturer_roots
        self.config = config
        self.rand = randbytes
        self.audit = AuditLog(db)
        self.attestations = AttestationCertificates()
        self.credential_failures = CredentialFailures(config.credential_counters)
        self._roots: dict[Hierarchy, list[x509.Certificate]] = {}
        self._ca_ids: list[str] = []
        # Set when an application of this process has committed its issuance job: the
        # worker loop waits on it instead of only polling (api/portal ``run_worker``).
        self._jobs_queued = threading.Event()

    # --- the worker's wake-up ---------------------------------------------------------------
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

    # --- the CA -----------------------------------------------------------------------------
    def roots(self, hierarchy: Hierarchy, *, refresh: bool = False) -> list[x509.Certificate]:
        """Every generation's root of ``hierarchy`` (signers are matched by key id). Cached:
        roots only ever get added (a new generation), so a miss re-reads them once."""
        if refresh or hierarchy not in self._roots:
            cas = self.authority.cas()
            self._roots = {h: [c.certificate for c in cas if c.hierarchy is h] for h in Hierarchy}
            self._ca_ids = [c.ca_id for c in cas]
        return self._roots[hierarchy]

    def ready_ca(self, now: dt.datetime) -> None:
        """Let the CA roll its OCSP responders over BEFORE we open a write transaction: a
        rollover writes in a transaction of its own, which on SQLite would wait for ours (one
        writer at a time) and time out. A no-op from memory when nothing is due."""
        self.roots(Hierarchy.SIGN)
        for ca_id in self._ca_ids:
            self.authority.ensure_responder(ca_id, now)

    # --- small helpers ----------------------------------------------------------------------
    def new_id(self) -> str:
        return self.rand(16).hex()

    def lock_person(self, s: Session, person_id: str) -> Person:
        person = Q.locked_person(s, self.db.is_sqlite, person_id)
        if person is None:
            raise E.NoSuchObject("no such person")
        return person


def device(s: Session, device_id: str) -> Device:
    found = Q.device(s, device_id)
    if found is None:
        raise E.NoSuchObject("no such device")
    return found


def notify_changed(s: Session, device_id: str, now: dt.datetime) -> None:
    """Push ``certificates-changed`` to the device (if it still exists)."""
    found = Q.device(s, device_id)
    if found is not None:
        outbox.enqueue(s, found, outbox.CERTIFICATES_CHANGED, {}, now=now)


def unrevoked(
    s: Session, serials: Sequence[str], devices: Sequence[str]
) -> list[Q.UnrevokedCertificate]:
    """The unrevoked certificates among ``serials`` and those of ``devices``."""
    return Q.unrevoked_certificates(s.connection(), serials, devices)


def need(value: _T | None) -> _T:
    """A row the transaction itself references must exist (foreign keys guarantee it)."""
    if value is None:
        raise LookupError("a referenced row is missing")
    return value


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def public_key(spki: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_der_public_key(spki)
    except ValueError:
        raise E.RequestInvalid("a public key is not SubjectPublicKeyInfo DER") from None
    if (
        not isinstance(key, rsa.RSAPublicKey)
        or key.key_size != 2048
        or key.public_numbers().e != 65537
    ):
        raise E.RequestInvalid("phone keys must be RSA-2048 with e=65537")
    return key


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
