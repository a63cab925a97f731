"""Batch issuance (group commit), deferred pre-signing, and the OCSP fast read
(``ocsp_cached``): each keeps the revocation invariant — never "good" after a revocation
commits, never a nonce from the cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from asn1crypto import core
from asn1crypto import ocsp as aocsp
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki import ocsp
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import (
    CertificateAuthority,
    InvalidRequest,
    InvalidTransition,
    IssueOrder,
)
from mobile_jpki.store.models import (
    AuditRecord,
    Certificate,
    CrlChange,
    OcspResponse,
    serial_hex,
)

Order = Callable[..., IssueOrder]


def _request(
    ca: CertificateAuthority,
    serials: list[int],
    *,
    nonce: bytes | None = None,
    alg: ocsp.HashAlgorithm = ocsp.HashAlgorithm.SHA1,
) -> bytes:
    _, name_hash, key_hash = ocsp.issuer_key(ca.identity("auth-1").certificate, alg)
    tbs: dict[str, object] = {
        "request_list": [
            {
                "req_cert": {
                    "hash_algorithm": {"algorithm": alg.value},
                    "issuer_name_hash": name_hash,
                    "issuer_key_hash": key_hash,
                    "serial_number": s,
                }
            }
            for s in serials
        ]
    }
    if nonce is not None:
        tbs["request_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
        ]
    return bytes(aocsp.OCSPRequest({"tbs_request": tbs}).dump())


def _count(ca: CertificateAuthority, model: type[object]) -> int:
    with ca.db.transaction(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_issue_many_commits_all_with_one_audit_record_each(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    audits = _count(ca, AuditRecord)
    infos = ca.issue_many([order(clock.now(), f"SUBJECT{i:04d}") for i in range(5)], clock.now())
    assert len({i.serial for i in infos}) == 5
    assert [i.subject_id for i in infos] == [f"SUBJECT{i:04d}" for i in range(5)]
    assert _count(ca, Certificate) == 5
    assert _count(ca, OcspResponse) == 5
    assert _count(ca, AuditRecord) == audits + 5
    assert ca.audit.verify().ok
    for info in infos:
        answer = ca.ocsp_cached(_request(ca, [info.serial]), clock.now())
        assert answer is not None
        assert ocsp.parse_response(answer.der).answers[0].status is ocsp.CertStatus.GOOD


def test_issue_many_is_all_or_nothing(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    # A randomness source that repeats itself: the second certificate's serial collides with
    # the first's at the insert, and neither certificate (nor any audit record) may commit.
    repeating = CertificateAuthority(ca.db, ca.settings, ca.keys, randbytes=lambda n: b"\x5a" * n)
    audits = _count(ca, AuditRecord)
    orders = [order(clock.now(), "SUBJECT0001"), order(clock.now(), "SUBJECT0002")]
    with pytest.raises(IntegrityError):
        repeating.issue_many(orders, clock.now())
    assert _count(ca, Certificate) == 0
    assert _count(ca, OcspResponse) == 0
    assert _count(ca, AuditRecord) == audits
    assert ca.audit.verify().ok


def test_deferred_presign_is_signed_on_first_request(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    (info,) = ca.issue_many([order(clock.now())], clock.now(), presign=False)
    assert _count(ca, OcspResponse) == 0
    req = _request(ca, [info.serial])
    assert ca.ocsp_cached(req, clock.now()) is None  # not pre-signed: the fast path declines
    answer = ca.ocsp_answer(req, clock.now())
    assert answer.cacheable
    assert ocsp.parse_response(answer.der).answers[0].status is ocsp.CertStatus.GOOD
    assert _count(ca, OcspResponse) == 1  # stored by the first request
    assert ca.ocsp_cached(req, clock.now()) is not None


def test_deferred_then_revoked_is_never_good(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    (info,) = ca.issue_many([order(clock.now())], clock.now(), presign=False)
    clock.advance(dt.timedelta(minutes=1))
    ca.revoke(info.serial, Reason.KEY_COMPROMISE, clock.now())
    req = _request(ca, [info.serial])
    cached = ca.ocsp_cached(req, clock.now())
    assert cached is not None  # the revocation signed and stored its answer
    assert ocsp.parse_response(cached.der).answers[0].status is ocsp.CertStatus.REVOKED
    # A background pass must not put a "good" back.
    assert ca.presign_pending(clock.now()) == 0
    answer = ca.ocsp_answer(req, clock.now())
    assert ocsp.parse_response(answer.der).answers[0].status is ocsp.CertStatus.REVOKED


def test_presign_pending_fills_only_missing_good(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    infos = ca.issue_many(
        [order(clock.now(), f"SUBJECT{i:04d}") for i in range(3)], clock.now(), presign=False
    )
    ca.hold(infos[0].serial, clock.now())
    assert ca.presign_pending(clock.now()) == 2
    assert ca.presign_pending(clock.now()) == 0
    statuses = [
        ocsp.parse_response(ca.ocsp_answer(_request(ca, [i.serial]), clock.now()).der)
        .answers[0]
        .status
        for i in infos
    ]
    assert statuses == [ocsp.CertStatus.REVOKED, ocsp.CertStatus.GOOD, ocsp.CertStatus.GOOD]


def test_ocsp_cached_sees_a_revocation_at_once(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    info = ca.issue(order(clock.now()), clock.now())
    req = _request(ca, [info.serial])
    before = ca.ocsp_cached(req, clock.now(), hierarchy=Hierarchy.AUTH)
    assert before is not None and before.cacheable
    # Revoked through ANOTHER CertificateAuthority on the same database: another process.
    other = CertificateAuthority(ca.db, ca.settings, ca.keys)
    clock.advance(dt.timedelta(seconds=1))
    other.revoke(info.serial, Reason.UNSPECIFIED, clock.now())
    after = ca.ocsp_cached(req, clock.now(), hierarchy=Hierarchy.AUTH)
    assert after is not None
    assert ocsp.parse_response(after.der).answers[0].status is ocsp.CertStatus.REVOKED


def test_ocsp_cached_declines_what_it_must_not_answer(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    a = ca.issue(order(clock.now(), "SUBJECT0001"), clock.now())
    b = ca.issue(order(clock.now(), "SUBJECT0002"), clock.now())
    now = clock.now()
    assert ca.ocsp_cached(_request(ca, [a.serial], nonce=b"\x01" * 16), now) is None
    assert ca.ocsp_cached(_request(ca, [a.serial, b.serial]), now) is None
    assert ca.ocsp_cached(_request(ca, [a.serial], alg=ocsp.HashAlgorithm.SHA256), now) is None
    assert ca.ocsp_cached(_request(ca, [a.serial]), now, hierarchy=Hierarchy.SIGN) is None
    assert ca.ocsp_cached(_request(ca, [a.serial + 1]), now) is None  # never issued
    assert ca.ocsp_cached(b"\x30\x03\x02\x01\x00", now) is None  # malformed
    assert ca.ocsp_cached(b"", now) is None
    # Stale (less than ocsp_refresh_before left): declined, so ocsp_answer re-signs.
    later = now + ca.settings.ocsp_validity - ca.settings.ocsp_refresh_before
    assert ca.ocsp_cached(_request(ca, [a.serial]), later) is None


def test_one_transaction_touches_the_audit_head_once(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    """Issue, revoke and hold in one caller transaction: every record is buffered and the
    chain head is read and updated once, at commit; and revoke/hold inside the caller's
    session open no second transaction of their own."""
    now = clock.now()
    first = ca.issue_many([order(now), order(now)], now)
    audits = _count(ca, AuditRecord)
    seen: list[str] = []

    def spy(_c: object, _cur: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    event.listen(ca.db.engine, "before_cursor_execute", spy)
    try:
        with ca.db.transaction() as s:
            ca.issue_many([order(now) for _ in range(3)], now, session=s)
            ca.revoke(first[0].serial, Reason.KEY_COMPROMISE, now, session=s)
            ca.hold(first[1].serial, now, session=s)
    finally:
        event.remove(ca.db.engine, "before_cursor_execute", spy)
    head = [q.split(None, 1)[0].upper() for q in seen if "audit_head" in q]
    assert head == ["SELECT", "UPDATE"]
    assert sum(1 for q in seen if q.startswith("INSERT INTO audit_log")) == 1
    if ca.db.is_sqlite:
        assert [q for q in seen if q.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    assert _count(ca, AuditRecord) == audits + 5
    assert ca.audit.verify().ok
    # The revocation is answered at once, from the response stored in that transaction.
    answer = ca.ocsp_answer(_request(ca, [first[0].serial]), now)
    single = aocsp.OCSPResponse.load(answer.der).basic_ocsp_response["tbs_response_data"][
        "responses"
    ][0]
    assert single["cert_status"].name == "revoked"
    assert ca.status(first[1].serial).status.value == "held"


def test_a_failing_transaction_commits_no_revocation_and_no_record(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    now = clock.now()
    (info,) = ca.issue_many([order(now)], now)
    audits = _count(ca, AuditRecord)
    with pytest.raises(RuntimeError):
        with ca.db.transaction() as s:
            ca.revoke(info.serial, Reason.KEY_COMPROMISE, now, session=s)
            raise RuntimeError("the use case failed after revoking")
    assert ca.status(info.serial).status.value == "good"
    assert _count(ca, AuditRecord) == audits
    assert ca.audit.verify().ok


def test_revoke_many_revokes_all_in_one_batch(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    now = clock.now()
    infos = ca.issue_many([order(now) for _ in range(3)], now)
    with ca.db.transaction() as s:
        done = ca.revoke_many(
            [i.serial for i in infos[:2]], Reason.SUPERSEDED, now, actor="op", session=s
        )
    assert [d.status.value for d in done] == ["revoked", "revoked"]
    assert [d.reason for d in done] == [Reason.SUPERSEDED, Reason.SUPERSEDED]
    assert ca.status(infos[2].serial).status.value == "good"
    answer = ca.ocsp_answer(_request(ca, [infos[0].serial, infos[1].serial]), now)
    responses = aocsp.OCSPResponse.load(answer.der).basic_ocsp_response["tbs_response_data"][
        "responses"
    ]
    assert [r["cert_status"].name for r in responses] == ["revoked", "revoked"]
    with ca.db.transaction(write=False) as s:
        changed = set(s.scalars(select(CrlChange.serial)).all())
    assert {serial_hex(i.serial) for i in infos[:2]} <= changed
    assert ca.audit.verify().ok


def test_revoke_many_is_all_or_nothing(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    now = clock.now()
    first, second = ca.issue_many([order(now), order(now)], now)
    ca.revoke(second.serial, Reason.KEY_COMPROMISE, now)
    audits = _count(ca, AuditRecord)
    with pytest.raises(InvalidTransition):
        with ca.db.transaction() as s:
            ca.revoke_many([first.serial, second.serial], Reason.SUPERSEDED, now, session=s)
    assert ca.status(first.serial).status.value == "good"
    assert ca.status(second.serial).reason is Reason.KEY_COMPROMISE
    assert _count(ca, AuditRecord) == audits
    with pytest.raises(InvalidRequest):
        with ca.db.transaction() as s:
            ca.revoke_many([first.serial, first.serial], Reason.SUPERSEDED, now, session=s)


def test_signatures_made_later_commit_with_their_transaction(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    """``signing_later``: revoked answers and new certificates are signed while the
    transaction goes on, and written by the end of the block, before the commit."""
    now = clock.now()
    old = ca.issue(order(now), now)
    certificates = _count(ca, Certificate)
    with ca.db.transaction() as s:
        with ca.signing_later() as later:
            ca.revoke_many([old.serial], Reason.SUPERSEDED, now, session=s, later=later)
            (serial,) = ca.issue_later([order(now)], now, session=s, later=later)
            # Chosen, not yet written: the row waits for its signature.
            assert s.get(Certificate, serial_hex(serial)) is None
        assert s.get(Certificate, serial_hex(serial)) is not None
    assert _count(ca, Certificate) == certificates + 1
    answer = ca.ocsp_answer(_request(ca, [old.serial, serial]), now)
    responses = aocsp.OCSPResponse.load(answer.der).basic_ocsp_response["tbs_response_data"][
        "responses"
    ]
    assert [r["cert_status"].name for r in responses] == ["revoked", "good"]
    cached = ca.ocsp_cached(_request(ca, [serial]), now)
    assert cached is not None  # the pre-signed "good" was stored with the certificate
    assert ca.audit.verify().ok


def test_signatures_made_later_are_dropped_with_a_rollback(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    now = clock.now()
    old = ca.issue(order(now), now)
    counts = (_count(ca, Certificate), _count(ca, OcspResponse), _count(ca, AuditRecord))
    with pytest.raises(RuntimeError, match="after the signatures were started"):
        with ca.db.transaction() as s, ca.signing_later() as later:
            ca.revoke_many([old.serial], Reason.SUPERSEDED, now, session=s, later=later)
            ca.issue_later([order(now)], now, session=s, later=later)
            raise RuntimeError("after the signatures were started")
    assert (_count(ca, Certificate), _count(ca, OcspResponse), _count(ca, AuditRecord)) == counts
    assert ca.status(old.serial).status.value == "good"
    good = ca.ocsp_answer(_request(ca, [old.serial]), now)
    single = aocsp.OCSPResponse.load(good.der).basic_ocsp_response["tbs_response_data"]
    assert single["responses"][0]["cert_status"].name == "good"
