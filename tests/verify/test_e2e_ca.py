"""Issue 6's done-when, end to end against the real CA service over HTTP: the CA app (OCSP,
CRLs) and our TSA router served by uvicorn on 127.0.0.1:<free port>; certificates issued and
revoked through the service; the kit and pyHanko fetch revocation from the certificates' URLs."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pdf_util import blank_pdf
from rp_pki import FACTS, LOCALITY, rsa_key

from mobile_jpki.api.app import create_app
from mobile_jpki.api.tsa import make_router
from mobile_jpki.clock import SystemClock
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.pki.tsa import TimeStampAuthority
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.settings import Settings
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.signing.pdf import Level, sign_pdf_bytes
from mobile_jpki.signing.timestamp import HttpTimestamper
from mobile_jpki.store.db import Database
from mobile_jpki.verify.certificate import Failure, RevocationCheck, TrustAnchors
from mobile_jpki.verify.cms import verify_cms
from mobile_jpki.verify.fetch import HttpFetcher
from mobile_jpki.verify.pdf import pyhanko_validate, verify_pdf
from mobile_jpki.verify.revocation_model import RevocationPolicy, Source

pytestmark = pytest.mark.slow


class MemoryKeys:
    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._n = 100

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        self._n += 1
        self._keys[name] = rsa_key(self._n)
        return self._keys[name], name

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        return self._keys[key_ref]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tsa(ca: CertificateAuthority, now: dt.datetime) -> TimeStampAuthority:
    root = ca.identity(
        next(c.ca_id for c in ca.cas() if c.hierarchy is Hierarchy.SIGN and c.active)
    )
    key = rsa_key(99)
    cert = (
        x509.CertificateBuilder(
            issuer_name=root.certificate.subject,
            subject_name=x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "mobile-jpki TSA"),
                ]
            ),
            public_key=key.public_key(),
            serial_number=777,
            not_valid_before=now - dt.timedelta(days=1),
            not_valid_after=now + dt.timedelta(days=365),
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(root.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return TimeStampAuthority(cert, key)


@dataclass
class Service:
    ca: CertificateAuthority
    base: str
    sign_root: x509.Certificate


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp: Path = tmp_path_factory.mktemp("ca")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=tmp, base_url=base, shard_count=2)
    db = Database(f"sqlite:///{tmp / 'ca.db'}")
    db.migrate()
    ca = CertificateAuthority(db, settings, MemoryKeys())
    now = SystemClock().now()
    ca.init_hierarchies(now - dt.timedelta(days=1))
    app = create_app(ca)
    app.include_router(make_router(_tsa(ca, now), SystemClock()))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    sign_root = next(c.certificate for c in ca.cas() if c.hierarchy is Hierarchy.SIGN)
    yield Service(ca, base, sign_root)
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


def _phone(service: Service, subject: str, n: int) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    now = SystemClock().now()
    key = rsa_key(n)
    info = service.ca.issue(
        IssueOrder(
            kind=CertKind.PHONE_SIGN,
            subject_public_key=key.public_key(),
            subject_id=subject,
            not_before=now - dt.timedelta(minutes=10),
            not_after=now + dt.timedelta(days=30),
            facts=FACTS,
            locality=LOCALITY,
        ),
        now - dt.timedelta(minutes=10),
    )
    return info.certificate, key


@pytest.fixture
def http() -> Iterator[HttpFetcher]:
    fetcher = HttpFetcher()
    yield fetcher
    fetcher.close()


def test_model_change_end_to_end(service: Service, http: HttpFetcher) -> None:
    anchors = TrustAnchors((service.sign_root,))
    online = RevocationCheck(http)
    tsa_url = f"{service.base}/tsa"

    old_cert, old_key = _phone(service, "OLDPHONE0000001", 120)
    signed_at = SystemClock().now()
    before_pdf = sign_pdf_bytes(
        blank_pdf(),
        old_key,
        old_cert,
        [service.sign_root],
        level=Level.B_T,
        now=signed_at,
        tsa_url=tsa_url,
    )
    stamper = HttpTimestamper(tsa_url)
    before_cms = sign_cms(
        b"application",
        old_key,
        old_cert,
        signing_time=signed_at,
        timestamper=stamper,
    )
    stamper.close()
    stamped_by = SystemClock().now()  # both time-stamps were made before this

    # Model change (機種変更): the new phone is issued, the old one's certificate superseded.
    new_cert, new_key = _phone(service, "NEWPHONE0000001", 121)
    # Revoke strictly after both time-stamps even with their stated accuracy (genTime +/- 1 s,
    # RFC 3161 §2.4.2): wait for the wall clock rather than date the revocation in the future,
    # so the verification below happens after the revocation, as it would in life.
    while SystemClock().now() <= stamped_by + dt.timedelta(seconds=2):
        time.sleep(0.1)
    revoked_at = SystemClock().now()
    service.ca.revoke(old_cert.serial_number, Reason.SUPERSEDED, revoked_at)

    # 1. made before the revocation, proven by the TSA: valid as of its signing time.
    v = verify_pdf(before_pdf, anchors=anchors, now=SystemClock().now(), revocation=online)
    assert v.valid, v.summary()
    rev = v.signatures[0].certificate.revocation  # type: ignore[union-attr]
    assert rev is not None and rev.revoked_at == revoked_at  # the later revocation is known
    c = verify_cms(
        b"application", before_cms, anchors=anchors, now=SystemClock().now(), revocation=online
    )
    assert c.valid, c.summary()

    # 2. made after it, no proof of time: revoked, superseded, with the time — by OCSP and by CRL.
    after = sign_cms(b"late", old_key, old_cert, signing_time=SystemClock().now())
    for source in (Source.OCSP, Source.CRL):
        check = RevocationCheck(http, policy=RevocationPolicy(sources=(source,)))
        late = verify_cms(
            b"late", after, anchors=anchors, now=SystemClock().now(), revocation=check
        )
        assert late.certificate is not None
        assert late.certificate.failures == (Failure.REVOKED,), late.summary()
        r = late.certificate.revocation
        assert r is not None and r.source is source
        assert r.reason is Reason.SUPERSEDED and r.revoked_at == revoked_at

    # 3. the new phone's PDF validates in pyHanko's own validator, only the signing root
    #    trusted, revocation fetched by pyHanko from the certificate's URLs.
    new_pdf = sign_pdf_bytes(
        blank_pdf(),
        new_key,
        new_cert,
        [service.sign_root],
        level=Level.B_T,
        now=SystemClock().now(),
        tsa_url=tsa_url,
    )
    [status] = pyhanko_validate(new_pdf, anchors=anchors, allow_fetching=True)
    assert status.bottom_line, status.pretty_print_details()
    assert verify_pdf(new_pdf, anchors=anchors, now=SystemClock().now(), revocation=online).valid

    # B-LT with the CA's OCSP embedded by pyHanko at signing time.
    lt = sign_pdf_bytes(
        blank_pdf(),
        new_key,
        new_cert,
        [service.sign_root],
        level=Level.B_LT,
        now=SystemClock().now(),
        tsa_url=tsa_url,
    )
    v = verify_pdf(lt, anchors=anchors, now=SystemClock().now(), revocation=RevocationCheck(None))
    assert v.valid, v.summary()
    http.close()
