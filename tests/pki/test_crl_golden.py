"""Byte-for-byte: our hand-written CRL DER against cryptography's builder for the same inputs.

RSA PKCS#1 v1.5 signatures are deterministic, so equal TBS bytes give equal CRLs; any difference
in any octet (a length form, a leading 00, UTCTime vs GeneralizedTime, extension order) fails.
"""

from __future__ import annotations

import datetime as dt

import pytest
from crl_fixtures import URLS, make_ca, reference_crl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobile_jpki.pki.crl import CrlScope, build_crl
from mobile_jpki.pki.revocation import Reason, RevokedEntry

UTC = dt.UTC
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
T1 = T0 + dt.timedelta(days=1)


def _both(
    entries: list[RevokedEntry],
    scope: CrlScope,
    *,
    crl_number: int = 7,
    this_update: dt.datetime = T0,
    next_update: dt.datetime = T1,
) -> tuple[bytes, bytes]:
    ca = make_ca()
    kwargs = {
        "issuer": ca,
        "urls": URLS,
        "crl_number": crl_number,
        "this_update": this_update,
        "next_update": next_update,
        "scope": scope,
    }
    ours = build_crl(entries=iter(entries), **kwargs)  # type: ignore[arg-type]
    theirs = reference_crl(entries=entries, **kwargs)  # type: ignore[arg-type]
    return ours, theirs


SCOPES = [CrlScope.full(0), CrlScope.full(63), CrlScope.delta(5, 6), CrlScope.arl()]

CASES: dict[str, list[RevokedEntry]] = {
    "empty": [],
    "one-no-reason": [RevokedEntry(1, T0)],
    "three-mixed": [
        RevokedEntry(0x1234, T0, Reason.KEY_COMPROMISE, T0 - dt.timedelta(days=3)),
        RevokedEntry(0x42, T0 - dt.timedelta(hours=5), Reason.AFFILIATION_CHANGED),
        RevokedEntry(0x7F, T0 - dt.timedelta(seconds=1), None, T0 - dt.timedelta(days=400)),
    ],
    "unspecified-omitted": [
        RevokedEntry(9, T0, Reason.UNSPECIFIED),
        RevokedEntry(10, T0, Reason.UNSPECIFIED, T0 - dt.timedelta(minutes=1)),
    ],
    "high-bit-serials": [
        RevokedEntry(0x80, T0, Reason.SUPERSEDED),
        RevokedEntry(0xFF, T0, Reason.CESSATION_OF_OPERATION),
        RevokedEntry(0x8000_0000_0000_0000, T0, Reason.CERTIFICATE_HOLD),
        RevokedEntry((1 << 159) - 1, T0),  # the largest 20-octet serial
        RevokedEntry(1 << 158, T0),
    ],
    "dates-around-2050": [
        RevokedEntry(1, dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)),
        RevokedEntry(2, dt.datetime(2050, 1, 1, 0, 0, 0, tzinfo=UTC), Reason.KEY_COMPROMISE),
        RevokedEntry(
            3, dt.datetime(1950, 1, 1, tzinfo=UTC), None, dt.datetime(2051, 2, 3, tzinfo=UTC)
        ),
        RevokedEntry(4, dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
    "every-jpki-reason": [
        RevokedEntry(100 + int(r), T0, r) for r in Reason if r is not Reason.REMOVE_FROM_CRL
    ],
}


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: f"{s.kind.value}-{s.shard}")
@pytest.mark.parametrize("case", sorted(CASES))
def test_identical_to_cryptography(case: str, scope: CrlScope) -> None:
    ours, theirs = _both(CASES[case], scope)
    assert ours.hex() == theirs.hex()


def test_delta_with_remove_from_crl_identical() -> None:
    entries = [
        RevokedEntry(0x55, T0, Reason.REMOVE_FROM_CRL),
        RevokedEntry(0x56, T0, Reason.CERTIFICATE_HOLD),
        RevokedEntry(0x57, T0, Reason.AFFILIATION_CHANGED),
    ]
    ours, theirs = _both(entries, CrlScope.delta(2, 40), crl_number=41)
    assert ours == theirs


@pytest.mark.parametrize(
    ("this_update", "next_update"),
    [
        (dt.datetime(2049, 12, 31, 12, tzinfo=UTC), dt.datetime(2050, 1, 1, 12, tzinfo=UTC)),
        (dt.datetime(2050, 6, 1, tzinfo=UTC), dt.datetime(2050, 6, 2, tzinfo=UTC)),
    ],
)
def test_update_times_across_2050_identical(
    this_update: dt.datetime, next_update: dt.datetime
) -> None:
    ours, theirs = _both(
        CASES["three-mixed"], CrlScope.full(1), this_update=this_update, next_update=next_update
    )
    assert ours == theirs


@pytest.mark.parametrize("crl_number", [0, 1, 127, 128, 255, 256, (1 << 159) - 1])
def test_crl_numbers_identical(crl_number: int) -> None:
    ours, theirs = _both(CASES["one-no-reason"], CrlScope.full(0), crl_number=crl_number)
    assert ours == theirs


def test_long_crl_needs_multi_octet_lengths_identical() -> None:
    # ~3,000 entries: revokedCertificates and the TBS need 3-octet long-form lengths.
    entries = [
        RevokedEntry(
            0x9000_0000 + i,
            T0 - dt.timedelta(seconds=17 * i),
            [None, Reason.KEY_COMPROMISE, Reason.SUPERSEDED][i % 3],
            T0 - dt.timedelta(days=1) if i % 5 == 0 else None,
        )
        for i in range(3000)
    ]
    ours, theirs = _both(entries, CrlScope.full(3))
    assert len(ours) > 0x10000
    assert ours == theirs


_seconds = st.integers(
    min_value=int(dt.datetime(1950, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(dt.datetime(2100, 1, 1, tzinfo=UTC).timestamp()),
)
_entries = st.lists(
    st.builds(
        lambda serial, when, reason, invalid: RevokedEntry(
            serial,
            dt.datetime.fromtimestamp(when, UTC),
            reason,
            None if invalid is None else dt.datetime.fromtimestamp(invalid, UTC),
        ),
        st.integers(min_value=1, max_value=(1 << 159) - 1),
        _seconds,
        st.sampled_from([None, *[r for r in Reason if r is not Reason.REMOVE_FROM_CRL]]),
        st.none() | _seconds,
    ),
    max_size=12,
    unique_by=lambda e: e.serial,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=_entries, shard=st.integers(min_value=0, max_value=1023))
def test_random_lists_identical(entries: list[RevokedEntry], shard: int) -> None:
    ours, theirs = _both(entries, CrlScope.full(shard))
    assert ours == theirs
