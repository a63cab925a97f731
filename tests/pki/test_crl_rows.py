"""The fast input form: ``build_crl(rows=...)`` with rows as the store keeps them (hex serial,
naive-UTC times, integer reason code) must give the same bytes as ``RevokedEntry`` values, and
as cryptography's builder, and refuse what the entry form refuses."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator

import pytest
from crl_fixtures import URLS, make_ca, reference_crl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_crl_golden import CASES, SCOPES

from mobile_jpki.pki.crl import CrlKind, CrlScope, InvalidEntry, build_crl, encode_revoked_rows
from mobile_jpki.pki.revocation import Reason, RevokedEntry, RevokedRow

UTC = dt.UTC
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
T1 = T0 + dt.timedelta(days=1)
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def as_row(entry: RevokedEntry) -> RevokedRow:
    """The entry as store/models.py keeps it: serial_hex text, naive UTC, the reason's code."""

    def naive(when: dt.datetime | None) -> dt.datetime | None:
        return None if when is None else when.astimezone(UTC).replace(tzinfo=None)

    revoked_at = naive(entry.revoked_at)
    assert revoked_at is not None
    reason = None if entry.reason is None else int(entry.reason)
    return format(entry.serial, "x"), revoked_at, reason, naive(entry.invalidity_date)


def build(
    scope: CrlScope,
    *,
    entries: Iterable[RevokedEntry] = (),
    rows: Iterable[RevokedRow] = (),
    crl_number: int = 7,
) -> bytes:
    return build_crl(
        issuer=make_ca(),
        urls=URLS,
        entries=entries,
        rows=rows,
        crl_number=crl_number,
        this_update=T0,
        next_update=T1,
        scope=scope,
    )


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: f"{s.kind.value}-{s.shard}")
@pytest.mark.parametrize("case", sorted(CASES))
def test_rows_identical_to_cryptography(case: str, scope: CrlScope) -> None:
    entries = CASES[case]
    ours = build(scope, rows=(as_row(e) for e in entries))
    theirs = reference_crl(
        issuer=make_ca(),
        urls=URLS,
        entries=entries,
        crl_number=7,
        this_update=T0,
        next_update=T1,
        scope=scope,
    )
    assert ours == theirs


def test_entries_then_rows_in_one_crl() -> None:
    first = [RevokedEntry(0x10, T0, Reason.SUPERSEDED)]
    then = [RevokedEntry(0x20, T0 - dt.timedelta(days=1), Reason.KEY_COMPROMISE, T0)]
    mixed = build(CrlScope.full(0), entries=first, rows=[as_row(e) for e in then])
    assert mixed == build(CrlScope.full(0), entries=first + then)


def test_rows_are_consumed_lazily_once() -> None:
    pulled: list[str] = []

    def rows() -> Iterator[RevokedRow]:
        for serial in ("1", "2", "3"):
            pulled.append(serial)
            yield serial, T0.replace(tzinfo=None), None, None

    generator = rows()
    build(CrlScope.full(0), rows=generator)
    assert pulled == ["1", "2", "3"]
    assert next(generator, None) is None


def test_remove_from_crl_code_only_in_deltas() -> None:
    row = ("ab", T0.replace(tzinfo=None), int(Reason.REMOVE_FROM_CRL), None)
    assert build(CrlScope.delta(0, 6), rows=[row]) == build(
        CrlScope.delta(0, 6), entries=[RevokedEntry(0xAB, T0, Reason.REMOVE_FROM_CRL)]
    )
    with pytest.raises(InvalidEntry) as info:
        build(CrlScope.full(0), rows=[row])
    assert info.value.serial == "ab"


@pytest.mark.parametrize("code", [-1, 2, 7, 9, 10, 99])
def test_reason_codes_outside_jpkis_are_refused(code: int) -> None:
    # cACompromise (2), privilegeWithdrawn (9), aACompromise (10) and unassigned codes are not
    # in JPKI's profile; a stored one is corruption, not something to publish silently.
    with pytest.raises(InvalidEntry, match="not allowed"):
        encode_revoked_rows([("ab", T0, code, None)], CrlKind.DELTA)


@pytest.mark.parametrize(
    "text",
    [
        "",  # no serial
        "0",  # zero is not a positive serial (RFC 5280 §4.1.2.2)
        "00ab",  # leading zero octet: the DER INTEGER would not be minimal (X.690 §8.3.2)
        "000ab",
        "-1",
        "0x1f",
        "ab cd",  # bytes.fromhex skips whitespace; the store never writes any
        " abcd",
        "abcd\n",
        "xyz",
        "8" + "0" * 39,  # 160 bits: 21 octets with the leading 00
        "1" + "0" * 40,  # 161 bits
    ],
)
def test_non_canonical_or_out_of_range_serial_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidEntry) as info:
        encode_revoked_rows([(text, T0, None, None)], CrlKind.FULL)
    assert info.value.serial == text


@pytest.mark.parametrize(
    "text", ["1", "7f", "80", "abc", "ABC", "0abc", "7" + "f" * 39, "1" + "0" * 38]
)
def test_serial_text_gives_the_same_integer_as_the_entry_form(text: str) -> None:
    row_der = encode_revoked_rows([(text, T0, None, None)], CrlKind.FULL)
    entry_der = build(CrlScope.full(0), entries=[RevokedEntry(int(text, 16), T0)])
    assert bytes(row_der) in entry_der


def test_row_times_naive_utc_or_aware_and_pre_1950_refused() -> None:
    # Naive is UTC (the store's convention); an aware time in any zone means the same instant.
    at = dt.datetime(2026, 4, 1, 18, 0, 0, 999_999, tzinfo=TOKYO)
    naive = at.astimezone(UTC).replace(tzinfo=None)
    assert encode_revoked_rows([("1", at, 1, at)], CrlKind.FULL) == encode_revoked_rows(
        [("1", naive, 1, naive)], CrlKind.FULL
    )
    with pytest.raises(InvalidEntry, match="before 1950"):
        encode_revoked_rows(
            [("1", dt.datetime(1949, 12, 31, 23, 59, 59), None, None)], CrlKind.FULL
        )


_when = st.datetimes(
    min_value=dt.datetime(1950, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, TOKYO, dt.timezone(dt.timedelta(hours=-5))]),
)
_entries = st.lists(
    st.builds(
        RevokedEntry,
        serial=st.integers(min_value=1, max_value=(1 << 159) - 1),
        revoked_at=_when,
        reason=st.none() | st.sampled_from(list(Reason)),
        invalidity_date=st.none() | _when,
    ),
    max_size=25,
    unique_by=lambda e: e.serial,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=_entries, aware=st.booleans(), base=st.integers(min_value=0, max_value=1000))
def test_rows_and_entries_give_identical_crls(
    entries: list[RevokedEntry], aware: bool, base: int
) -> None:
    rows = [as_row(e) for e in entries]
    if aware:  # a cursor whose column type converts to aware datetimes: same bytes
        rows = [
            (s, w.replace(tzinfo=UTC), r, None if i is None else i.replace(tzinfo=UTC))
            for s, w, r, i in rows
        ]
    scope = CrlScope.delta(3, base)  # deltas allow every reason, removeFromCRL included
    assert build(scope, rows=rows, crl_number=base + 1) == build(
        scope, entries=entries, crl_number=base + 1
    )
