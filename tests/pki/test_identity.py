"""The basic four facts: validation, era codes at era boundaries, otherName round trip."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from mobile_jpki.pki import oids
from mobile_jpki.pki.identity import (
    BasicFourFacts,
    Era,
    IdentityError,
    Locality,
    ProfileError,
    Sex,
    SubstituteFlagsError,
    decode_date_of_birth,
    encode_date_of_birth,
    era_of,
    read_facts,
    utf8string_der,
)


def make(**changes: object) -> BasicFourFacts:
    base: dict[str, object] = {
        "name": "山田\u3000太郎",
        "name_substitute_flags": "00000",
        "sex": Sex.MALE,
        "date_of_birth": dt.date(1980, 5, 17),
        "address": "大阪府大阪市北区中之島一丁目3番20号",
        "address_substitute_flags": "0" * 19,
    }
    base.update(changes)
    return BasicFourFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (dt.date(1868, 1, 24), "018680124"),  # before 明治: unknown era
        (dt.date(1868, 1, 25), "118680125"),  # 明治 1 (慶応4年1月1日)
        (dt.date(1912, 7, 29), "119120729"),  # last day of 明治
        (dt.date(1912, 7, 30), "219120730"),  # 大正
        (dt.date(1926, 12, 24), "219261224"),
        (dt.date(1926, 12, 25), "319261225"),  # 昭和
        (dt.date(1989, 1, 7), "319890107"),  # 昭和64年1月7日
        (dt.date(1989, 1, 8), "419890108"),  # 平成
        (dt.date(2019, 4, 30), "420190430"),
        (dt.date(2019, 5, 1), "520190501"),  # 令和
    ],
)
def test_date_of_birth_era_boundaries(day: dt.date, code: str) -> None:
    assert encode_date_of_birth(day) == code
    assert decode_date_of_birth(code) == day


def test_era_of_values() -> None:
    assert era_of(dt.date(2000, 1, 1)) is Era.HEISEI
    assert Era.REIWA.value == 5


@pytest.mark.parametrize("text", ["319890108", "42019043", "619890108", "4198901O8", "420190231"])
def test_decode_date_of_birth_rejects(text: str) -> None:
    with pytest.raises(ProfileError):
        decode_date_of_birth(text)


def test_name_needs_fullwidth_space() -> None:
    with pytest.raises(IdentityError) as err:
        make(name="山田 太郎")
    assert err.value.field == "name"
    assert make().name.split("\u3000") == ["山田", "太郎"]


@pytest.mark.parametrize("name", ["", "\u3000山田", "山田\u3000", "山田\n太郎"])
def test_name_rejects(name: str) -> None:
    with pytest.raises(IdentityError):
        make(name=name, name_substitute_flags="0" * len(name))


@pytest.mark.parametrize("flags", ["0000", "000000", "00020", "0000 "])
def test_name_flags_one_per_character(flags: str) -> None:
    with pytest.raises(SubstituteFlagsError) as err:
        make(name_substitute_flags=flags)
    assert err.value.field == "name_substitute_flags"


def test_address_flags_one_per_character() -> None:
    with pytest.raises(SubstituteFlagsError) as err:
        make(address_substitute_flags="0" * 18)
    assert err.value.field == "address_substitute_flags"


def test_address_at_most_200_characters() -> None:
    ok = "東" * 200
    assert make(address=ok, address_substitute_flags="0" * 200).address == ok
    with pytest.raises(IdentityError, match="at most 200") as err:
        make(address=ok + "京", address_substitute_flags="0" * 201)
    assert err.value.field == "address"


@pytest.mark.parametrize(
    "address",
    [
        "〒100-0013 東京都千代田区霞が関",
        "100-0013東京都",
        "\uff11\uff10\uff10\uff0d\uff10\uff10\uff11\uff13東京都",
    ],
)
def test_address_without_postal_code(address: str) -> None:
    with pytest.raises(IdentityError, match="postal code"):
        make(address=address, address_substitute_flags="0" * len(address))


def test_date_of_birth_must_be_a_date() -> None:
    with pytest.raises(IdentityError):
        make(date_of_birth=dt.datetime(1980, 1, 1, tzinfo=dt.UTC))


def test_other_names_are_explicit_utf8strings_in_oid_order() -> None:
    names = make().to_other_names()
    assert [n.type_id for n in names] == list(oids.FACT_OIDS)
    assert [n.type_id.dotted_string for n in names] == [
        f"1.2.392.200149.8.5.5.{i}" for i in range(1, 7)
    ]
    # cryptography adds the [0] EXPLICIT; the value is the UTF8String TLV (tag 0x0C).
    assert (
        names[0].value
        == b"\x0c" + bytes([len("山田\u3000太郎".encode())]) + "山田\u3000太郎".encode()
    )
    assert core.UTF8String.load(names[3].value).native == "319800517"
    san = x509.SubjectAlternativeName(names)
    der = x509.Extension(san.oid, False, san).value.public_bytes()
    # Parse independently (asn1crypto): otherName ::= [0] { type-id, [0] EXPLICIT value }.
    parsed = asn1_x509.GeneralNames.load(der)
    assert [gn.name for gn in parsed] == ["other_name"] * 6
    first = parsed[0].chosen
    assert first["type_id"].dotted == "1.2.392.200149.8.5.5.1"
    explicit = first["value"].dump()
    assert explicit[0] == 0xA0  # context-specific, constructed, tag 0: EXPLICIT
    assert explicit[2:] == names[0].value


@pytest.mark.parametrize(
    ("sex", "unknown_code", "written"),
    [
        (Sex.MALE, "9", "1"),
        (Sex.FEMALE, "9", "2"),
        (Sex.UNKNOWN, "9", "9"),
        (Sex.UNKNOWN, "3", "3"),
    ],
)
def test_sex_codes(sex: Sex, unknown_code: str, written: str) -> None:
    names = make(sex=sex).to_other_names(unknown_sex_code=unknown_code)
    assert core.UTF8String.load(names[2].value).native == written
    assert BasicFourFacts.from_other_names(names).sex is sex


def test_unknown_sex_code_is_3_or_9() -> None:
    with pytest.raises(IdentityError):
        make().to_other_names(unknown_sex_code="0")


def test_from_other_names_errors() -> None:
    names = make().to_other_names()
    with pytest.raises(ProfileError, match=r"missing: otherName 1\.2\.392\.200149\.8\.5\.5\.3"):
        BasicFourFacts.from_other_names(names[:2] + names[3:])
    with pytest.raises(ProfileError, match="twice"):
        BasicFourFacts.from_other_names([*names, names[0]])
    bad_sex = x509.OtherName(oids.FACT_SEX, core.UTF8String("4").dump())
    with pytest.raises(ProfileError, match="sex code"):
        BasicFourFacts.from_other_names([*names[:2], bad_sex, *names[3:]])
    not_utf8 = x509.OtherName(oids.FACT_NAME, core.PrintableString("A").dump())
    with pytest.raises(ProfileError, match="not a UTF8String"):
        BasicFourFacts.from_other_names([not_utf8, *names[1:]])
    # Unrelated otherNames are ignored.
    extra = x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), core.UTF8String("x").dump())
    assert BasicFourFacts.from_other_names([extra, *reversed(names)]) == make()


def test_read_facts_needs_san(auth_ca: object) -> None:
    from mobile_jpki.pki.model import CaIdentity

    assert isinstance(auth_ca, CaIdentity)
    with pytest.raises(ProfileError, match="basic four facts"):
        read_facts(auth_ca.certificate)  # the root's SAN has a DirName only


def test_locality() -> None:
    assert Locality("Hokkaido", "Sapporo-shi Chuo-ku").city_romaji == "Sapporo-shi Chuo-ku"
    for bad in ("", "東京都", " Tokyo", "Tokyo\n"):
        with pytest.raises(IdentityError):
            Locality(bad, "Chiyoda-ku")


_kanji = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@given(
    family=st.text(_kanji, min_size=1, max_size=10),
    given_name=st.text(_kanji, min_size=1, max_size=10),
    address=st.text(_kanji, min_size=1, max_size=200),
    day=st.dates(min_value=dt.date(1868, 1, 25), max_value=dt.date(2100, 12, 31)),
    sex=st.sampled_from(list(Sex)),
    data=st.data(),
)
def test_round_trip(
    family: str, given_name: str, address: str, day: dt.date, sex: Sex, data: st.DataObject
) -> None:
    name = f"{family}\u3000{given_name}"
    flags = st.text(st.sampled_from("01"), min_size=len(name), max_size=len(name))
    facts = BasicFourFacts(
        name=name,
        name_substitute_flags=data.draw(flags),
        sex=sex,
        date_of_birth=day,
        address=address,
        address_substitute_flags="1" * len(address),
    )
    assert BasicFourFacts.from_other_names(facts.to_other_names()) == facts


@given(st.text(max_size=400))
def test_utf8string_der_matches_asn1crypto(text: str) -> None:
    assert utf8string_der(text) == core.UTF8String(text).dump()


def test_utf8string_der_long_forms() -> None:
    for size in (0, 127, 128, 255, 256, 600, 70000):
        text = "a" * size
        assert utf8string_der(text) == core.UTF8String(text).dump()
