"""pki.ocsp's DER-parts encoders: byte for byte equal to asn1crypto's encoding of the same
ResponseData and CertID, over generated inputs (the hand-written DER stays honest)."""

from __future__ import annotations

import datetime as dt

from asn1crypto import ocsp as aocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_jpki.pki import ocsp
from mobile_jpki.pki.revocation import Reason

_times = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2049, 12, 31),
    timezones=st.just(dt.UTC),
)


@st.composite
def _cert_ids(draw: st.DrawFn) -> ocsp.CertId:
    alg = draw(st.sampled_from(list(ocsp.HashAlgorithm)))
    size = 20 if alg is ocsp.HashAlgorithm.SHA1 else 32
    blob = st.binary(min_size=size, max_size=size)
    # 127-bit serials as we issue them, plus the edges of INTEGER's minimal encoding.
    serial = draw(st.one_of(st.integers(0, 2**160), st.sampled_from([0, 127, 128, 255, 256])))
    return ocsp.CertId(alg, draw(blob), draw(blob), serial)


@st.composite
def _answers(draw: st.DrawFn) -> ocsp.SingleAnswer:
    status = draw(st.sampled_from(list(ocsp.CertStatus)))
    revoked = status is ocsp.CertStatus.REVOKED
    return ocsp.SingleAnswer(
        cert_id=draw(_cert_ids()),
        status=status,
        this_update=draw(_times),
        next_update=draw(st.none() | _times),
        revoked_at=draw(_times) if revoked else None,
        reason=draw(st.none() | st.sampled_from(list(Reason))) if revoked else None,
    )


@settings(max_examples=200, deadline=None)
@given(
    key_hash=st.binary(min_size=20, max_size=20),
    answers=st.lists(_answers(), min_size=1, max_size=4),
    produced_at=_times,
    nonce_value=st.none() | st.binary(min_size=1, max_size=32),
)
def test_response_data_equals_asn1crypto(
    key_hash: bytes,
    answers: list[ocsp.SingleAnswer],
    produced_at: dt.datetime,
    nonce_value: bytes | None,
) -> None:
    # The nonce argument is the request's extension value: the DER of an OCTET STRING.
    nonce = None if nonce_value is None else bytes([0x04, len(nonce_value)]) + nonce_value
    fast = ocsp.response_data_der(key_hash, answers, produced_at, nonce)
    assert fast == ocsp.response_data_reference(key_hash, answers, produced_at, nonce)
    # And it decodes to what was asked (the reference could share a bug otherwise).
    decoded = aocsp.ResponseData.load(fast)
    assert decoded["responder_id"].chosen.native == key_hash
    assert [int(r["cert_id"]["serial_number"].native) for r in decoded["responses"]] == [
        a.cert_id.serial for a in answers
    ]


def test_times_are_whole_seconds() -> None:
    when = dt.datetime(2026, 4, 1, 9, 0, 0, 450000, tzinfo=dt.UTC)
    cid = ocsp.CertId(ocsp.HashAlgorithm.SHA1, b"\x01" * 20, b"\x02" * 20, 1)
    answer = ocsp.SingleAnswer(cid, ocsp.CertStatus.GOOD, when, None)
    der = ocsp.response_data_der(b"\x03" * 20, [answer], when)
    assert b"\x18\x0f20260401090000Z" in der
    assert der == ocsp.response_data_reference(b"\x03" * 20, [answer], when)
