from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobile_jpki.protocol.apdu import (
    SW,
    ApduParseError,
    CommandApdu,
    more_data,
    response,
    split_response,
    tries_left,
)


@pytest.mark.parametrize(
    ("hexa", "data", "ne", "extended"),
    [
        ("00440000", b"", None, False),  # case 1
        ("00B0000010", b"", 16, False),  # case 2S
        ("00B0000000", b"", 256, False),  # Le 00 = 256
        ("00A4020C020001", b"\x00\x01", None, False),  # case 3S
        ("802A008003AABBCC00", b"\xaa\xbb\xcc", 256, False),  # case 4S
        ("00B00000000100", b"", 256, True),  # case 2E
        ("00B00000000000", b"", 65536, True),  # extended Le 0000 = 65536
        ("00D60000000002AABB", b"\xaa\xbb", None, True),  # case 3E
        ("00460000000002AABB0000", b"\xaa\xbb", 65536, True),  # case 4E
    ],
)
def test_parse_iso_cases(hexa: str, data: bytes, ne: int | None, extended: bool) -> None:
    cmd = CommandApdu.parse(bytes.fromhex(hexa))
    assert (cmd.data, cmd.ne, cmd.extended) == (data, ne, extended)


@pytest.mark.parametrize(
    "hexa",
    ["", "00", "00A402", "00A4020C0300", "00A4020C02000102FF", "00B000000001", "00D600000000",
     "00D60000000003AABB", "00D60000000002AABB00"],
)  # fmt: skip
def test_malformed_is_a_parse_error_answered_6700(hexa: str) -> None:
    with pytest.raises(ApduParseError) as info:
        CommandApdu.parse(bytes.fromhex(hexa))
    assert info.value.sw == SW.WRONG_LENGTH


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=600),
    st.one_of(st.none(), st.integers(1, 65536)),
)
def test_encode_parse_round_trip(ins: int, p1: int, data: bytes, ne: int | None) -> None:
    cmd = CommandApdu(0x00, ins, p1, 0, data, ne)
    again = CommandApdu.parse(cmd.to_bytes())
    assert (again.ins, again.p1, again.data, again.ne) == (ins, p1, data, ne)


def test_status_word_families() -> None:
    assert more_data(300) == 0x6100 and more_data(5) == 0x6105
    assert tries_left(4) == 0x63C4
    assert SW.is_known(0x63C2) and SW.is_known(0x61FF) and SW.is_known(0x6A82)
    assert not SW.is_known(0x6A88) and not SW.is_known(0x9001)
    assert split_response(response(b"ab", SW.END_OF_FILE)) == (b"ab", 0x6282)
