"""The DER primitives behind the CRL encoder (X.690), checked against asn1crypto's encoder."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import core
from hypothesis import given
from hypothesis import strategies as st

from mobile_jpki.pki import der


@given(st.integers(min_value=-(1 << 200), max_value=1 << 200))
def test_integer_matches_asn1crypto(value: int) -> None:
    assert der.integer(value) == core.Integer(value).dump()


@pytest.mark.parametrize(
    "dotted", ["2.5.29.20", "2.5.29.46", "1.2.840.113549.1.1.11", "1.2.392.200149.8.5.1.1.20"]
)
def test_oid_matches_asn1crypto(dotted: str) -> None:
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@pytest.mark.parametrize("dotted", ["1", "3.1", "1.40", "0.99.1"])
def test_invalid_oid_refused(dotted: str) -> None:
    with pytest.raises(ValueError):
        der.oid(dotted)


@pytest.mark.parametrize(
    ("when", "encoded"),
    [
        (dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC), b"\x17\x0d491231235959Z"),
        (dt.datetime(2050, 1, 1, tzinfo=dt.UTC), b"\x18\x0f20500101000000Z"),
        (dt.datetime(1950, 1, 1, tzinfo=dt.UTC), b"\x17\x0d500101000000Z"),
        (
            dt.datetime(2026, 4, 1, 18, 0, 0, 123, tzinfo=dt.timezone(dt.timedelta(hours=9))),
            b"\x17\x0d260401090000Z",
        ),
    ],
)
def test_x509_time(when: dt.datetime, encoded: bytes) -> None:
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, UTC, whole seconds.
    assert der.x509_time(when) == encoded


def test_x509_time_refuses_naive_and_pre_1950() -> None:
    with pytest.raises(ValueError, match="naive"):
        der.x509_time(dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        der.generalized_time(dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="1950"):
        der.x509_time(dt.datetime(1949, 12, 31, tzinfo=dt.UTC))


def test_bit_string_and_boolean() -> None:
    assert der.bit_string(b"\xab") == core.BitString.load(b"\x03\x02\x00\xab").dump()
    assert der.BOOLEAN_TRUE == core.Boolean(True).dump()
    assert der.sequence(b"\x05\x00", b"\x05\x00") == bytes.fromhex("300405000500")
