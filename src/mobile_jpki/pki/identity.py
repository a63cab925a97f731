"""The basic four facts (基本4情報) of a signing certificate, validated, and their X.509 form.

A JPKI signing certificate carries the holder's name, sex, date of birth and address as six
subjectAltName otherNames (RFC 5280 §4.2.1.6), type-ids ``1.2.392.200149.8.5.5.1``…``.6``, each
value ``[0] EXPLICIT UTF8String`` (JPKI-FACTS.md "Certificates"). Characters that the resident
register holds but JIS X 0208/0213 cannot express (外字) are replaced by a substitute character;
the two *substitute flags* strings mark those positions with ``1``, one flag per character.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from enum import Enum, IntEnum

from asn1crypto import core
from cryptography import x509

from mobile_jpki.pki import oids
from mobile_jpki.protocol import tlv

FULLWIDTH_SPACE = "\u3000"
MAX_ADDRESS_LENGTH = 200


class ProfileError(ValueError):
    """A certificate, or a value meant for one, does not match the JPKI profile."""


class IdentityError(ProfileError):
    """One of the basic four facts is invalid. ``field`` names it (the dataclass field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SubstituteFlagsError(IdentityError):
    """A substitute-flags string is not one ``0``/``1`` per character of its text."""


class Sex(Enum):
    """性別. Codes 1 and 2 are fixed; the code written for *unknown* is 3 or 9 (JPKI-FACTS.md,
    *uncertain*): choose with ``unknown_sex_code`` when encoding; both decode to UNKNOWN."""

    MALE = "1"
    FEMALE = "2"
    UNKNOWN = "9"


#: Codes that read back as :attr:`Sex.UNKNOWN`.
UNKNOWN_SEX_CODES = frozenset({"3", "9"})
DEFAULT_UNKNOWN_SEX_CODE = "9"


class Era(IntEnum):
    """The era code E of ``EYYYYMMDD`` (JPKI-FACTS.md): 0 unknown, then 明治 … 令和."""

    UNKNOWN = 0
    MEIJI = 1
    TAISHO = 2
    SHOWA = 3
    HEISEI = 4
    REIWA = 5


# First Gregorian day of each era, latest first.
# - 明治: 慶応4年1月1日 = 1868-01-25 (改元の詔 of 明治元年9月8日 applied the era from the first
#   day of that year; Japan used the lunisolar calendar until 明治5年12月2日 = 1872-12-31).
# - 大正: 1912-07-30 (明治天皇 died 07-30; 改元 the same day under the old 皇室典範).
# - 昭和: 1926-12-25 (大正天皇 died 12-25; 改元 the same day).
# - 平成: 1989-01-08 (元号を改める政令, 昭和64年政令第1号, in force the day after promulgation).
# - 令和: 2019-05-01 (元号を改める政令, 平成31年政令第143号).
_ERA_STARTS: tuple[tuple[dt.date, Era], ...] = (
    (dt.date(2019, 5, 1), Era.REIWA),
    (dt.date(1989, 1, 8), Era.HEISEI),
    (dt.date(1926, 12, 25), Era.SHOWA),
    (dt.date(1912, 7, 30), Era.TAISHO),
    (dt.date(1868, 1, 25), Era.MEIJI),
)


def era_of(day: dt.date) -> Era:
    """The Japanese era a Gregorian date falls in; :attr:`Era.UNKNOWN` before 明治."""
    for start, era in _ERA_STARTS:
        if day >= start:
            return era
    return Era.UNKNOWN


def encode_date_of_birth(day: dt.date) -> str:
    """``EYYYYMMDD``: era code, then the Gregorian date (not the era year)."""
    return f"{era_of(day).value}{day:%Y%m%d}"


def decode_date_of_birth(text: str) -> dt.date:
    """Parse ``EYYYYMMDD`` and check that E is the era of the date (a mismatch means a
    certificate built by a different rule, which a relying party should not silently accept)."""
    if not re.fullmatch(r"[0-5][0-9]{8}", text):
        raise ProfileError(f"date of birth {text!r} is not EYYYYMMDD")
    try:
        day = dt.date(int(text[1:5]), int(text[5:7]), int(text[7:9]))
    except ValueError as exc:
        raise ProfileError(f"date of birth {text!r}: {exc}") from None
    if int(text[0]) != era_of(day).value:
        raise ProfileError(f"date of birth {text!r}: era code does not match the date")
    return day


def utf8string_der(text: str) -> bytes:
    """DER of a UTF8String (X.690 §8.23, tag 12; definite length §8.1.3). Written by hand
    because asn1crypto's generic encoder was a measured share of issuance time; tested byte
    for byte against asn1crypto."""
    return tlv.encode(0x0C, text.encode("utf-8"))


def _check_text(field: str, text: str) -> None:
    if not text:
        raise IdentityError(field, "must not be empty")
    if text != text.strip(" " + FULLWIDTH_SPACE):
        raise IdentityError(field, "must not start or end with a space")
    for char in text:
        if unicodedata.category(char).startswith("C"):
            raise IdentityError(field, f"control or unassigned character U+{ord(char):04X}")


def _check_flags(field: str, flags: str, text: str) -> None:
    if len(flags) != len(text):
        raise SubstituteFlagsError(
            field, f"{len(flags)} flags for {len(text)} characters: need one per character"
        )
    if flags.strip("01"):
        raise SubstituteFlagsError(field, "flags are the characters 0 and 1 only")


# A leading postal code (〒123-4567, 123-4567 or their full-width forms) must not be part of the
# address fact: JPKI carries the address as on the resident register, without 郵便番号.
_POSTAL_CODE = re.compile(
    "^\\s*(\u3012\\s*)?[0-9\uff10-\uff19]{3}[-\uff0d\u30fc\u2010][0-9\uff10-\uff19]{4}"
)


@dataclass(frozen=True)
class BasicFourFacts:
    """基本4情報 as a signing certificate carries them. Validated on construction."""

    name: str
    name_substitute_flags: str
    sex: Sex
    date_of_birth: dt.date
    address: str
    address_substitute_flags: str

    def __post_init__(self) -> None:
        _check_text("name", self.name)
        if " " in self.name:
            raise IdentityError("name", "use U+3000 (full-width space) between the name parts")
        _check_flags("name_substitute_flags", self.name_substitute_flags, self.name)
        if not isinstance(self.sex, Sex):
            raise IdentityError("sex", f"{self.sex!r} is not a Sex")
        if not isinstance(self.date_of_birth, dt.date) or isinstance(
            self.date_of_birth, dt.datetime
        ):
            raise IdentityError("date_of_birth", "must be a datetime.date")
        _check_text("address", self.address)
        if len(self.address) > MAX_ADDRESS_LENGTH:
            raise IdentityError(
                "address", f"{len(self.address)} characters; at most {MAX_ADDRESS_LENGTH}"
            )
        if _POSTAL_CODE.match(self.address):
            raise IdentityError("address", "must not include a postal code")
        _check_flags("address_substitute_flags", self.address_substitute_flags, self.address)

    @classmethod
    def create(
        cls,
        *,
        family_name: str,
        given_name: str,
        sex: Sex,
        date_of_birth: dt.date,
        address: str,
        name_substitute_flags: str | None = None,
        address_substitute_flags: str | None = None,
    ) -> BasicFourFacts:
        """Join the name parts with U+3000; flags default to all ``0`` (no substitutes)."""
        name = f"{family_name}{FULLWIDTH_SPACE}{given_name}" if given_name else family_name
        return cls(
            name=name,
            name_substitute_flags=name_substitute_flags or "0" * len(name),
            sex=sex,
            date_of_birth=date_of_birth,
            address=address,
            address_substitute_flags=address_substitute_flags or "0" * len(address),
        )

    def to_other_names(
        self, *, unknown_sex_code: str = DEFAULT_UNKNOWN_SEX_CODE
    ) -> list[x509.OtherName]:
        """The six otherNames, in OID order. ``cryptography`` writes ``[0] EXPLICIT`` around
        the value it is given, so the value is the DER of the UTF8String alone."""
        if unknown_sex_code not in UNKNOWN_SEX_CODES:
            allowed = sorted(UNKNOWN_SEX_CODES)
            raise IdentityError("sex", f"unknown-sex code must be one of {allowed}")
        sex = unknown_sex_code if self.sex is Sex.UNKNOWN else self.sex.value
        values = (
            self.name,
            self.name_substitute_flags,
            sex,
            encode_date_of_birth(self.date_of_birth),
            self.address,
            self.address_substitute_flags,
        )
        return [
            x509.OtherName(oid, utf8string_der(value))
            for oid, value in zip(oids.FACT_OIDS, values, strict=True)
        ]

    @classmethod
    def from_other_names(cls, names: list[x509.OtherName]) -> BasicFourFacts:
        """Rebuild from otherNames (any order; other type-ids ignored)."""
        found: dict[x509.ObjectIdentifier, str] = {}
        for other in names:
            if other.type_id not in oids.FACT_OIDS:
                continue
            if other.type_id in found:
                raise ProfileError(f"otherName {other.type_id.dotted_string} appears twice")
            try:
                found[other.type_id] = core.UTF8String.load(other.value, strict=True).native
            except (ValueError, TypeError) as exc:
                raise ProfileError(
                    f"otherName {other.type_id.dotted_string} is not a UTF8String: {exc}"
                ) from None
        missing = [oid.dotted_string for oid in oids.FACT_OIDS if oid not in found]
        if missing:
            raise ProfileError(f"basic four facts missing: otherName {', '.join(missing)}")
        sex_code = found[oids.FACT_SEX]
        if sex_code in UNKNOWN_SEX_CODES:
            sex = Sex.UNKNOWN
        elif sex_code in (Sex.MALE.value, Sex.FEMALE.value):
            sex = Sex(sex_code)
        else:
            raise ProfileError(f"sex code {sex_code!r} is not 1, 2, 3 or 9")
        return cls(
            name=found[oids.FACT_NAME],
            name_substitute_flags=found[oids.FACT_NAME_SUBSTITUTE],
            sex=sex,
            date_of_birth=decode_date_of_birth(found[oids.FACT_DATE_OF_BIRTH]),
            address=found[oids.FACT_ADDRESS],
            address_substitute_flags=found[oids.FACT_ADDRESS_SUBSTITUTE],
        )


def read_facts(cert: x509.Certificate) -> BasicFourFacts:
    """The basic four facts of a signing certificate; :class:`ProfileError` when the
    certificate has none (an authentication certificate) or they are malformed."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ProfileError("certificate has no subjectAltName: no basic four facts") from None
    try:
        return BasicFourFacts.from_other_names(san.get_values_for_type(x509.OtherName))
    except IdentityError as exc:
        raise ProfileError(f"basic four facts in the certificate are invalid: {exc}") from exc


_ROMAJI = re.compile(r"[A-Za-z][A-Za-z0-9 .'\-]*")


@dataclass(frozen=True)
class Locality:
    """The two ``L=`` attributes of a signing certificate's subject: prefecture and city (市区町村)
    in romaji, e.g. ``Tokyo`` / ``Chiyoda-ku`` (JPKI-FACTS.md "Certificates")."""

    prefecture_romaji: str
    city_romaji: str

    def __post_init__(self) -> None:
        for field, value in (
            ("prefecture_romaji", self.prefecture_romaji),
            ("city_romaji", self.city_romaji),
        ):
            if not _ROMAJI.fullmatch(value) or value != value.strip() or len(value) > 128:
                raise IdentityError(field, f"{value!r} is not romaji (ASCII letters, ≤ 128)")
