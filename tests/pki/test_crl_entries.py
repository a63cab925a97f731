"""Stored entries: ``encode_entry`` (run once per status change, its DER kept with the
certificate) must give exactly the bytes ``build_crl`` writes for that revocation, so a CRL
concatenated from stored entries (``build_crl(encoded=...)``) is the same CRL, byte for byte,
as cryptography's builder makes from the same revocations."""

from __future__ import annotations

import datetime as dt

import pytest
from crl_fixtures import URLS, make_ca, reference_crl
from hypothesis import HealthCheck, given, settings
from test_crl_golden import CASES, T0, T1, _entries

from mobile_jpki.pki.crl import CrlKind, CrlScope, InvalidEntry, build_crl, encode_entry
from mobile_jpki.pki.crl import encode_revoked_certificates as encode_all
from mobile_jpki.pki.revocation import Reason, RevokedEntry

STORED_SCOPES = [CrlScope.full(0), CrlScope.full(63), CrlScope.arl()]


def stored(entry: RevokedEntry) -> bytes:
    return encode_entry(entry.serial, entry.revoked_at, entry.reason, entry.invalidity_date)


def built(scope: CrlScope, *, encoded: list[bytes], entries: list[RevokedEntry]) -> bytes:
    return build_crl(
        issuer=make_ca(),
        urls=URLS,
        entries=entries,
        encoded=iter(encoded),
        crl_number=7,
        this_update=T0,
        next_update=T1,
        scope=scope,
    )


def reference(scope: CrlScope, entries: list[RevokedEntry]) -> bytes:
    return reference_crl(
        issuer=make_ca(),
        urls=URLS,
        entries=entries,
        crl_number=7,
        this_update=T0,
        next_update=T1,
        scope=scope,
    )


@pytest.mark.parametrize("scope", STORED_SCOPES, ids=lambda s: f"{s.kind.value}-{s.shard}")
@pytest.mark.parametrize("case", sorted(CASES))
def test_stored_entries_identical_to_cryptography(case: str, scope: CrlScope) -> None:
    entries = CASES[case]
    ours = built(scope, encoded=[stored(e) for e in entries], entries=[])
    assert ours == reference(scope, entries)


@pytest.mark.parametrize("case", sorted(CASES))
def test_entry_is_the_slice_build_crl_writes(case: str) -> None:
    for entry in CASES[case]:
        assert stored(entry) == bytes(encode_all([entry], CrlKind.FULL))


def test_batches_joined_and_entries_first() -> None:
    # The service passes one joined batch per cursor fetch, after entries encoded from their
    # columns (rows stored before the entry column existed): the order is entries, then encoded.
    entries = CASES["three-mixed"] + CASES["high-bit-serials"]
    blobs = [stored(e) for e in entries[2:]]
    ours = built(
        CrlScope.full(1),
        encoded=[b"".join(blobs[:3]), b"", b"".join(blobs[3:])],
        entries=entries[:2],
    )
    assert ours == reference(CrlScope.full(1), entries)


def test_aware_times_in_any_zone_store_the_utc_entry() -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    assert stored(RevokedEntry(5, T0.astimezone(jst), Reason.KEY_COMPROMISE, T0)) == stored(
        RevokedEntry(5, T0, Reason.KEY_COMPROMISE, T0.astimezone(jst))
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (RevokedEntry(0, T0), "positive"),
        (RevokedEntry(1 << 159, T0), "20 octets"),
        (RevokedEntry(1, T0.replace(tzinfo=None)), "naive"),
        (RevokedEntry(1, dt.datetime(1949, 12, 31, tzinfo=dt.UTC)), "before 1950"),
        (RevokedEntry(1, T0, Reason.REMOVE_FROM_CRL), "not allowed"),
    ],
)
def test_refused_like_build_crl(entry: RevokedEntry, problem: str) -> None:
    with pytest.raises(InvalidEntry, match=problem):
        stored(entry)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=_entries)
def test_random_stored_lists_identical(entries: list[RevokedEntry]) -> None:
    scope = CrlScope.full(9)
    assert built(scope, encoded=[stored(e) for e in entries], entries=[]) == reference(
        scope, entries
    )
