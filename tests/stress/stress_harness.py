"""The stress tests' harness: a real ``mobile-jpki serve`` subprocess on a data directory, the
office and phones that drive it over TCP, and the invariants checked after the worst day.

Everything the harness asks of the service goes through the same doors as production: the
HTTP API (operator key, device credentials), OCSP and CRLs fetched from the URLs in the
certificates. The invariants are read from the store read-only (a second connection; never a
write), the audit chain through :class:`~mobile_jpki.service.audit.AuditLog`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import text

from mobile_jpki.applet import Manufacturer
from mobile_jpki.applet.factory import new_card, new_secure_element
from mobile_jpki.applet.state import AppletState, MemoryStateStore, StateStore
from mobile_jpki.clock import SystemClock
from mobile_jpki.files import ensure_private_dir
from mobile_jpki.phone.client import OperatorClient, PortalClient, PortalProblem
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import (
    DeviceKind,
    device_path,
    load_or_create_manufacturer,
)
from mobile_jpki.reader.statefile import StateFile
from mobile_jpki.runtime import open_system
from mobile_jpki.service.audit import AuditLog
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.service.portal.cms import cms_document_signer
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database
from mobile_jpki.verify.fetch import HttpFetcher
from mobile_jpki.verify.revocation import check_revocation
from mobile_jpki.verify.revocation_model import RevocationStatus

CARD_PASSWORD = "CARD1234"
CARD_PIN = "1234"
PHONE_PASSWORD = "PHONE123"
PHONE_PIN = "4321"
BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)
READY = "登録準備が完了しています"
REGISTERED = "登録済み"
POSTGRES_ENV = "MOBILE_JPKI_TEST_POSTGRES_URL"

# Keys made on the emulated chips come from a small pool: RSA-2048 generation (~0.1 s each)
# would otherwise dominate a run of hundreds of model changes on two cores. The CA's own keys
# and every signature stay real.
_POOL: list[rsa.RSAPrivateKey] = []
_NEXT = itertools.count()
_SERIALS = itertools.count(1)


def pooled_key() -> rsa.RSAPrivateKey:
    if not _POOL:
        _POOL.extend(
            rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(8)
        )
    return _POOL[next(_NEXT) % len(_POOL)]


def chip_serial() -> bytes:
    return next(_SERIALS).to_bytes(4, "big") + os.urandom(12)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def facts(*, born: dt.date = dt.date(1990, 4, 1)) -> dict[str, object]:
    return {
        "family_name": "デジタル",
        "given_name": "花子",
        "sex": "female",
        "date_of_birth": born,
        "address": "東京都千代田区永田町一丁目",
        "prefecture_romaji": "Tokyo",
        "city_romaji": "Chiyoda-ku",
    }


# --- the server ----------------------------------------------------------------------------
@dataclass
class Serve:
    """``python -m mobile_jpki serve`` as a child process in its own process group, so that a
    SIGKILL reaches uvicorn's worker processes too (``--workers 2``) and nothing survives."""

    data_dir: Path
    port: int
    database_url: str | None = None
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "stress-serve.log"

    def start(self, *, timeout: float = 60.0) -> None:
        args = [sys.executable, "-m", "mobile_jpki", "serve", "--data-dir", str(self.data_dir)]
        args += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited ({self.proc.returncode}): {self.tail()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/portal/v1/info", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"serve did not answer within {timeout} s: {self.tail()}")

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole group: no shutdown hook, no flush, no lifespan exit."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None


# --- the deployment --------------------------------------------------------------------------
@dataclass
class Deployment:
    """A data directory with its CA, operator keys and emulated manufacturer, and its server."""

    settings: Settings
    serve: Serve
    office_key: str
    hotline_key: str
    admin_key: str
    card_issuer_key: ec.EllipticCurvePublicKey
    manufacturer: Manufacturer

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def database(self) -> Database:
        return Database(self.settings.effective_database_url)

    def client(self, *, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.serve.url, timeout=timeout)


def reset_postgres(url: str) -> None:
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        db.dispose()


def make_deployment(
    data_dir: Path, *, database_url: str | None = None, workers: int = 1
) -> Deployment:
    """``ca init`` + operator keys in this process (as an operator would), then ``serve``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock = SystemClock()
    now = clock.now()
    if database_url:
        reset_postgres(database_url)
    settings, _ = init_data_dir(data_dir, now, base_url=base, database_url=database_url)
    system = open_system(settings, clock)
    try:
        _, office = system.portal.create_api_key(name="stress-office", role="office", now=now)
        _, hotline = system.portal.create_api_key(name="stress-hotline", role="hotline", now=now)
        _, admin = system.portal.create_api_key(name="stress-admin", role="admin", now=now)
        card_issuer = system.card_issuer_key.public_key()
    finally:
        system.close()
    manufacturer = load_or_create_manufacturer(data_dir, now=now)
    serve = Serve(data_dir, port, database_url, workers)
    return Deployment(settings, serve, office, hotline, admin, card_issuer, manufacturer)


@contextmanager
def running(dep: Deployment) -> Iterator[Deployment]:
    dep.serve.start()
    try:
        yield dep
    finally:
        dep.serve.stop()


# --- residents and phones ----------------------------------------------------------------------
def _store(dep: Deployment, kind: DeviceKind, name: str, files: bool) -> StateStore:
    if not files:
        return MemoryStateStore()
    path = device_path(dep.data_dir, kind, name)
    ensure_private_dir(path.parent)
    return StateFile(path)


@dataclass
class Resident:
    person_id: str
    card_id: str
    card: JpkiClient
    phones: list[ScriptedPhone] = field(default_factory=list)


def new_resident(
    dep: Deployment, http: httpx.Client, name: str, *, files: bool = False
) -> Resident:
    """A person registered at the office with a card personalised through APDUs."""
    clock = SystemClock()
    operator = OperatorClient(http, dep.office_key)
    person_id = operator.register_person(**facts())
    applet = new_card(
        chip_serial(),
        _store(dep, DeviceKind.CARD, name, files),
        clock=clock,
        key_factory=pooled_key,
        kdf_iterations=10,
    )
    card = JpkiClient(InProcessConnection(applet))
    card_id, _ = issue_card(
        operator,
        PortalClient(http),
        card,
        person_id=person_id,
        expires_at=clock.now() + dt.timedelta(days=3650),
        sign_password=CARD_PASSWORD,
        auth_pin=CARD_PIN,
        card_instruction_key=dep.card_issuer_key,
    )
    return Resident(person_id, card_id, card)


def new_phone(
    dep: Deployment,
    http: httpx.Client,
    name: str,
    *,
    files: bool = False,
    manufacturer: Manufacturer | None = None,
    enrol: bool = True,
) -> ScriptedPhone:
    clock = SystemClock()
    serial = chip_serial()
    element_key = ec.generate_private_key(ec.SECP256R1())
    maker = manufacturer or dep.manufacturer
    cert = maker.attest(element_key=element_key.public_key(), serial=serial, now=clock.now())
    applet = new_secure_element(
        serial,
        _store(dep, DeviceKind.PHONE, name, files),
        element_key,
        cert,
        clock=clock,
        key_factory=pooled_key,
        kdf_iterations=10,
    )
    phone = ScriptedPhone(
        api=PortalClient(http),
        element=JpkiClient(InProcessConnection(applet)),
        sign_document=cms_document_signer(clock),
        clock=clock,
    )
    if enrol:
        phone.enrol(push_channel="none")
    return phone


def apply(phone: ScriptedPhone, resident: Resident, *, model_change: bool) -> str:
    """申請 with 同意して次へ already given (the consent dialog is the portal tests' subject)."""
    return phone.apply(
        resident.card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password=PHONE_PASSWORD,
        auth_pin=PHONE_PIN,
        model_change=model_change,
        consent=True,
    )


def labels(phone: ScriptedPhone) -> list[str]:
    return [str(e.get("label")) for e in phone.my_page().get("entries", [])]


def wait_ready(phone: ScriptedPhone, *, timeout: float = 60.0, or_registered: bool = False) -> bool:
    """Poll マイページ until every certificate shows 「登録準備が完了しています」 (the worker
    inside ``serve`` runs every 0.5 s); with ``or_registered``, 「登録済み」 counts too (a
    registration cut short by a crash may have installed one certificate of two)."""
    done = {READY, REGISTERED} if or_registered else {READY}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.TransportError, PortalProblem):
            if all(label in done for label in labels(phone)):
                return True
        time.sleep(0.2)
    return False


def register(phone: ScriptedPhone) -> list[str]:
    return phone.register(sign_password=PHONE_PASSWORD, auth_pin=PHONE_PIN)


def first_phone(
    dep: Deployment, http: httpx.Client, resident: Resident, name: str, *, files: bool = False
) -> ScriptedPhone:
    phone = new_phone(dep, http, name, files=files)
    apply(phone, resident, model_change=False)
    if not wait_ready(phone):
        raise RuntimeError(f"{name}: the first application never became ready")
    register(phone)
    resident.phones.append(phone)
    return phone


# --- invariants ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CertRow:
    serial: str
    ca_id: str
    kind: str
    status: str
    person_id: str | None
    device_id: str | None
    der: bytes


def cert_rows(db: Database) -> list[CertRow]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT serial, ca_id, kind, status, person_id, device_id, der FROM certificate")
        ).all()
    return [CertRow(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in rows]


def roots(db: Database) -> dict[str, x509.Certificate]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT ca_id, certificate_der FROM ca_generation")).all()
    return {r[0]: x509.load_der_x509_certificate(bytes(r[1])) for r in rows}


def two_holders(rows: list[CertRow]) -> dict[str, set[str]]:
    """Persons with unrevoked phone certificates on more than one device (must be empty)."""
    devices: dict[str, set[str]] = {}
    for row in rows:
        if row.kind.startswith("phone-") and row.status != "revoked" and row.person_id:
            devices.setdefault(row.person_id, set()).add(str(row.device_id))
    return {p: d for p, d in devices.items() if len(d) > 1}


def audited_issues(db: Database) -> tuple[bool, set[str], int]:
    """(chain verifies, serials with a certificate.issue record, number of records)."""
    log = AuditLog(db)
    verdict = log.verify()
    issued: set[str] = set()
    after, count = 0, 0
    while True:
        batch = log.entries(after=after, limit=1000)
        if not batch:
            break
        for entry in batch:
            count += 1
            if entry.action == "certificate.issue":
                issued.add(entry.obj)
        after = batch[-1].seq
    return verdict.ok, issued, count


def audit_length(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one())


def chain_failures(rows: list[CertRow], cas: dict[str, x509.Certificate]) -> list[str]:
    bad = []
    for row in rows:
        cert = x509.load_der_x509_certificate(row.der)
        try:
            cert.verify_directly_issued_by(cas[row.ca_id])
        except (ValueError, TypeError, KeyError, InvalidSignature) as exc:
            bad.append(f"{row.serial}: {exc!r}")
    return bad


def revocation_seen(
    http: httpx.Client, cert: x509.Certificate, issuer: x509.Certificate
) -> tuple[bool, bool]:
    """(OCSP says revoked, the CRL named in the certificate lists it)."""
    now = SystemClock().now()
    result = check_revocation(cert, issuer, HttpFetcher(http), now=now)
    ocsp_revoked = result.status is RevocationStatus.REVOKED
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = next(
        name.value
        for point in cdp
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier)
    )
    crl = x509.load_der_x509_crl(http.get(url).raise_for_status().content)
    listed = crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    return ocsp_revoked, listed


def half_written_states(data_dir: Path) -> list[str]:
    bad = []
    for path in sorted((data_dir / "devices").rglob("*.state")):
        try:
            AppletState.from_bytes(path.read_bytes())
        except Exception as exc:
            bad.append(f"{path}: {exc!r}")
    return bad
