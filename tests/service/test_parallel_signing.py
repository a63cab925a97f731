"""Issuance and revocation with the signatures spread over the signing pool: every stored
certificate and OCSP response belongs to its own serial, verifies, and says what the
certificate's state is; a signature that fails leaves nothing behind. Run with one thread (the
caller alone) and with several, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp as xocsp
from sqlalchemy import func, select

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki import ocsp
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.settings import Settings
from mobile_jpki.store.models import AuditRecord, Certificate, OcspResponse, serial_hex

Order = Callable[..., IssueOrder]


@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    # Overrides conftest's: the ``ca`` fixture then signs with this many threads.
    return Settings(data_dir=tmp_path, shard_count=4, signing_threads=request.param)


def _stored(ca: CertificateAuthority) -> dict[str, bytes]:
    with ca.db.transaction(write=False) as s:
        return {r.serial: r.der for r in s.scalars(select(OcspResponse)).all()}


def _check_response(ca: CertificateAuthority, der: bytes, serial: int) -> xocsp.OCSPResponse:
    """The stored response names ``serial`` and is signed by auth-1's delegated responder."""
    response = xocsp.load_der_ocsp_response(der)
    assert response.serial_number == serial
    responder = response.certificates[0]
    responder.verify_directly_issued_by(ca.identity("auth-1").certificate)
    public = responder.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256()
    )
    return response


def test_issue_many_every_certificate_and_response_is_its_own(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    infos = ca.issue_many([order(clock.now(), f"PAR{i:04d}") for i in range(12)], clock.now())
    assert [i.subject_id for i in infos] == [f"PAR{i:04d}" for i in range(12)]
    stored = _stored(ca)
    root = ca.identity(infos[0].ca_id).certificate
    for info in infos:
        cert = x509.load_der_x509_certificate(info.der)
        assert cert.serial_number == info.serial
        assert info.subject_id in cert.subject.rfc4514_string()
        cert.verify_directly_issued_by(root)
        response = _check_response(ca, stored[serial_hex(info.serial)], info.serial)
        assert response.certificate_status is xocsp.OCSPCertStatus.GOOD
    assert ca.audit.verify().ok


def test_revoke_many_re_signs_each_in_the_transaction(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    infos = ca.issue_many([order(clock.now(), f"REV{i:04d}") for i in range(8)], clock.now())
    revoked = [i.serial for i in infos[::2]]
    later = clock.now() + dt.timedelta(minutes=5)
    with ca.db.transaction() as s:
        changed = ca.revoke_many(revoked, Reason.KEY_COMPROMISE, later, session=s)
    assert [c.serial for c in changed] == revoked
    stored = _stored(ca)
    for info in infos:
        response = _check_response(ca, stored[serial_hex(info.serial)], info.serial)
        if info.serial in revoked:
            assert response.certificate_status is xocsp.OCSPCertStatus.REVOKED
            assert response.revocation_reason is x509.ReasonFlags.key_compromise
            assert response.revocation_time_utc == later
        else:
            assert response.certificate_status is xocsp.OCSPCertStatus.GOOD
    assert ca.audit.verify().ok


def test_a_failed_signature_commits_nothing(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    ca.issue_many([order(clock.now(), "WARMUP")], clock.now())
    audits = _count(ca, AuditRecord)
    calls = itertools.count(1)
    real = ocsp.build_response

    def fails_fifth(**kwargs: Any) -> bytes:
        # A token error in the middle of the batch (itertools.count is atomic under the GIL).
        if next(calls) == 5:
            raise RuntimeError("token error")
        return real(**kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ocsp, "build_response", fails_fifth)
        with pytest.raises(RuntimeError, match="token error"):
            ca.issue_many([order(clock.now(), f"F{i}") for i in range(10)], clock.now())
    assert _count(ca, Certificate) == 1
    assert _count(ca, OcspResponse) == 1
    assert _count(ca, AuditRecord) == audits
    assert ca.audit.verify().ok


def _count(ca: CertificateAuthority, model: type[object]) -> int:
    with ca.db.transaction(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)
