"""Validity rules at their boundaries: the 5th birthday, 29 February, age 15, JST, caps."""

from __future__ import annotations

import datetime as dt

import pytest

from mobile_jpki.pki.validity import (
    JST,
    EligibilityError,
    ValidityError,
    age_on,
    birthday_in,
    card_not_after,
    card_validity,
    check_signing_eligibility,
    end_of_day_jst,
    jst_date,
    nth_birthday_after,
    phone_validity,
)

FAR = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)


def jst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)  # type: ignore[arg-type, misc]


def test_end_of_day_jst_is_1459z() -> None:
    assert end_of_day_jst(dt.date(2033, 7, 15)) == dt.datetime(
        2033, 7, 15, 14, 59, 59, tzinfo=dt.UTC
    )


def test_jst_date_crosses_midnight_before_utc() -> None:
    assert jst_date(dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC)) == dt.date(2026, 4, 1)
    assert jst_date(dt.datetime(2026, 3, 31, 14, 59, 59, tzinfo=dt.UTC)) == dt.date(2026, 3, 31)


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        (dt.date(2026, 5, 16), dt.date(2030, 5, 17)),  # birthday tomorrow: 1st of 5
        (dt.date(2026, 5, 17), dt.date(2031, 5, 17)),  # issued on the birthday: not "after"
        (dt.date(2026, 5, 18), dt.date(2031, 5, 17)),
    ],
)
def test_fifth_birthday_after_issuance(issued: dt.date, expected: dt.date) -> None:
    assert nth_birthday_after(dt.date(1980, 5, 17), issued, 5) == expected


def test_29_february_birthday() -> None:
    dob = dt.date(2004, 2, 29)
    assert birthday_in(2027, dob) == dt.date(2027, 2, 28)  # 民法143② ただし書
    assert birthday_in(2028, dob) == dt.date(2028, 2, 29)
    assert nth_birthday_after(dob, dt.date(2026, 3, 1), 5) == dt.date(2031, 2, 28)
    assert nth_birthday_after(dob, dt.date(2023, 3, 1), 5) == dt.date(2028, 2, 29)
    # Issued on 28 Feb of a common year = that year's birthday: not after issuance.
    assert nth_birthday_after(dob, dt.date(2027, 2, 28), 1) == dt.date(2028, 2, 29)
    # Age: 15 only from 1 March in a common year.
    assert age_on(dob, dt.date(2019, 2, 28)) == 14
    assert age_on(dob, dt.date(2019, 3, 1)) == 15
    assert age_on(dob, dt.date(2020, 2, 29)) == 16


def test_card_not_after_ends_on_the_birthday_in_jst() -> None:
    now = jst(2026, 4, 1, 10, 0)
    end = card_not_after(date_of_birth=dt.date(1980, 5, 17), now=now, card_expires=FAR)
    assert end == jst(2030, 5, 17, 23, 59, 59)
    assert end.astimezone(dt.UTC).hour == 14


def test_issuance_date_is_the_japanese_date() -> None:
    # 2026-05-16T16:00Z is already the 17th (the birthday) in Japan: not counted.
    now = dt.datetime(2026, 5, 16, 16, 0, tzinfo=dt.UTC)
    end = card_not_after(date_of_birth=dt.date(1980, 5, 17), now=now, card_expires=FAR)
    assert end == jst(2031, 5, 17, 23, 59, 59)


def test_card_expiry_caps() -> None:
    cap = jst(2029, 1, 1, 23, 59, 59)
    end = card_not_after(date_of_birth=dt.date(1980, 5, 17), now=jst(2026, 4, 1), card_expires=cap)
    assert end == cap
    with pytest.raises(ValidityError, match="expired"):
        card_not_after(date_of_birth=dt.date(1980, 5, 17), now=jst(2029, 1, 2), card_expires=cap)


def test_signing_capped_by_auth_certificate() -> None:
    now = jst(2026, 4, 1, 9)
    auth_end = jst(2028, 12, 31, 23, 59, 59)
    start, end = card_validity(
        date_of_birth=dt.date(1980, 5, 17),
        now=now,
        card_expires=FAR,
        signing=True,
        auth_not_after=auth_end,
    )
    assert start == now.astimezone(dt.UTC)
    assert end == auth_end
    _, auth_only = card_validity(
        date_of_birth=dt.date(1980, 5, 17), now=now, card_expires=FAR, signing=False
    )
    assert auth_only == jst(2030, 5, 17, 23, 59, 59)


@pytest.mark.parametrize(
    ("now", "eligible"),
    [
        (jst(2026, 5, 16, 23, 59, 59), False),  # the day before the 15th birthday
        (jst(2026, 5, 17, 0, 0, 0), True),  # the birthday itself
        (dt.datetime(2026, 5, 16, 14, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 5, 16, 15, 0, 0, tzinfo=dt.UTC), True),  # 00:00 JST on the 17th
    ],
)
def test_signing_age_15(now: dt.datetime, eligible: bool) -> None:
    dob = dt.date(2011, 5, 17)
    if eligible:
        check_signing_eligibility(dob, now)
    else:
        with pytest.raises(EligibilityError) as err:
            check_signing_eligibility(dob, now)
        assert (err.value.age, err.value.minimum_age) == (14, 15)


def test_under_15_gets_auth_but_not_signing() -> None:
    dob, now = dt.date(2015, 1, 1), jst(2026, 4, 1)
    card_validity(date_of_birth=dob, now=now, card_expires=FAR, signing=False)
    with pytest.raises(EligibilityError):
        card_validity(date_of_birth=dob, now=now, card_expires=FAR, signing=True)


def test_phone_never_outlives_the_card_certificate() -> None:
    card_end = jst(2030, 5, 17, 23, 59, 59)
    now = jst(2026, 4, 1)
    assert phone_validity(now=now, card_certificate_not_after=card_end)[1] == card_end
    assert (
        phone_validity(now=now, card_certificate_not_after=card_end, requested_not_after=FAR)[1]
        == card_end
    )
    shorter = jst(2027, 1, 1)
    assert (
        phone_validity(now=now, card_certificate_not_after=card_end, requested_not_after=shorter)[1]
        == shorter
    )
    with pytest.raises(ValidityError, match="expired"):
        phone_validity(now=card_end, card_certificate_not_after=card_end)


def test_phone_signing_checks_age() -> None:
    with pytest.raises(ValidityError):
        phone_validity(now=jst(2026, 4, 1), card_certificate_not_after=FAR, signing=True)
    with pytest.raises(EligibilityError):
        phone_validity(
            now=jst(2026, 4, 1),
            card_certificate_not_after=FAR,
            signing=True,
            date_of_birth=dt.date(2012, 1, 1),
        )


def test_future_date_of_birth() -> None:
    with pytest.raises(ValidityError):
        card_not_after(date_of_birth=dt.date(2030, 1, 1), now=jst(2026, 4, 1), card_expires=FAR)
    with pytest.raises(ValidityError):
        age_on(dt.date(2030, 1, 1), dt.date(2026, 1, 1))
