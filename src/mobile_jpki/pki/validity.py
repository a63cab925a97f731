"""Validity periods of JPKI end-entity certificates and who may hold a signing certificate.

Rules (JPKI-FACTS.md "Certificates", 電子署名等に係る地方公共団体情報システム機構の認証業務に
関する法律施行規則):
- A card certificate runs to the holder's **5th birthday after issuance** (発行日後5回目の誕生日).
  We end it at the end of that day in Japan, 23:59:59 JST = 14:59:59Z, the same convention as
  the real J-LIS roots' notAfter (e.g. ``330715145959Z``). A birthday on the issuance day itself
  is not "after" issuance and does not count.
- Born on 29 February: in a common year the birthday is taken as 28 February — a period whose
  corresponding day does not exist ends on the last day of that month (民法 第143条第2項
  ただし書).
- The card certificate is capped by the card's own expiry; the signing certificate also by the
  authentication certificate issued with it.
- Phone certificates never outlive the card certificate they were applied with.
- No signing certificate under 15: age in completed years on the issuance date in Japan
  (年齢計算ニ関スル法律: the day of birth counts, so the age increases on the birthday; a
  29 February birthday increases it on 1 March in common years).
"""

from __future__ import annotations

import datetime as dt

from mobile_jpki.pki.model import utc

#: Japan Standard Time has had no daylight saving since 1952: a fixed offset is exact.
JST = dt.timezone(dt.timedelta(hours=9), "JST")
CARD_CERT_BIRTHDAYS = 5
SIGNING_MINIMUM_AGE = 15


class ValidityError(ValueError):
    """A validity period cannot be computed as asked."""


class EligibilityError(ValidityError):
    """The person may not hold the certificate (signing certificates need age ≥ 15)."""

    def __init__(self, *, age: int, minimum_age: int) -> None:
        super().__init__(f"signing certificates are issued from age {minimum_age}; holder is {age}")
        self.age = age
        self.minimum_age = minimum_age


def jst_date(moment: dt.datetime) -> dt.date:
    """The calendar date in Japan at ``moment`` (timezone-aware)."""
    return utc(moment).astimezone(JST).date()


def end_of_day_jst(day: dt.date) -> dt.datetime:
    """23:59:59 JST of ``day``, in UTC."""
    return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=JST).astimezone(dt.UTC)


def birthday_in(year: int, date_of_birth: dt.date) -> dt.date:
    """The birthday in ``year``; 29 February becomes 28 February in common years (民法143②)."""
    try:
        return date_of_birth.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def nth_birthday_after(date_of_birth: dt.date, issued_on: dt.date, n: int) -> dt.date:
    """The ``n``-th birthday strictly after ``issued_on``."""
    if n < 1:
        raise ValueError("n starts at 1")
    first = birthday_in(issued_on.year, date_of_birth)
    year = issued_on.year if first > issued_on else issued_on.year + 1
    return birthday_in(year + n - 1, date_of_birth)


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    """Age in completed years on ``day`` (the age increases on the birthday; for 29 February
    births on 1 March of common years)."""
    if day < date_of_birth:
        raise ValidityError("the day is before the date of birth")
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def check_signing_eligibility(date_of_birth: dt.date, now: dt.datetime) -> None:
    """Raise :class:`EligibilityError` if the holder is under 15 on today's date in Japan."""
    age = age_on(date_of_birth, jst_date(now))
    if age < SIGNING_MINIMUM_AGE:
        raise EligibilityError(age=age, minimum_age=SIGNING_MINIMUM_AGE)


def card_not_after(
    *, date_of_birth: dt.date, now: dt.datetime, card_expires: dt.datetime
) -> dt.datetime:
    """End of a card certificate's validity: end of the 5th birthday after issuance (JST),
    capped by the card's expiry (``card_expires``, an instant; see :func:`end_of_day_jst` for a
    card whose expiry is printed as a date)."""
    issued_on = jst_date(now)
    if date_of_birth > issued_on:
        raise ValidityError("date of birth is in the future")
    fifth = nth_birthday_after(date_of_birth, issued_on, CARD_CERT_BIRTHDAYS)
    end = min(end_of_day_jst(fifth), utc(card_expires))
    if end <= utc(now):
        raise ValidityError("the card has expired")
    return end


def card_validity(
    *,
    date_of_birth: dt.date,
    now: dt.datetime,
    card_expires: dt.datetime,
    signing: bool,
    auth_not_after: dt.datetime | None = None,
) -> tuple[dt.datetime, dt.datetime]:
    """(not_before, not_after) of a card certificate issued at ``now``. For the signing one
    the holder must be ≥ 15 and ``auth_not_after`` (the user-authentication certificate's end)
    caps the result; pass ``None`` when no authentication certificate is issued with it."""
    if signing:
        check_signing_eligibility(date_of_birth, now)
    end = card_not_after(date_of_birth=date_of_birth, now=now, card_expires=card_expires)
    if signing and auth_not_after is not None:
        end = min(end, utc(auth_not_after))
        if end <= utc(now):
            raise ValidityError("the authentication certificate has expired")
    return utc(now), end


def phone_validity(
    *,
    now: dt.datetime,
    card_certificate_not_after: dt.datetime,
    requested_not_after: dt.datetime | None = None,
    date_of_birth: dt.date | None = None,
    signing: bool = False,
) -> tuple[dt.datetime, dt.datetime]:
    """(not_before, not_after) of a phone certificate applied for with a card certificate
    ending at ``card_certificate_not_after``: never later than it. For the signing kind pass
    ``date_of_birth`` to enforce the age limit (the card's signing certificate implies it, but
    the check is cheap and independent)."""
    if signing:
        if date_of_birth is None:
            raise ValidityError("a phone signing certificate needs the date of birth")
        check_signing_eligibility(date_of_birth, now)
    end = utc(card_certificate_not_after)
    if requested_not_after is not None:
        end = min(end, utc(requested_not_after))
    if end <= utc(now):
        raise ValidityError("the card certificate has expired")
    return utc(now), end
