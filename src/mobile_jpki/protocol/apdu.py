"""Command and response APDUs (ISO/IEC 7816-4 §5.1), the instructions and the status words of
the JPKI AP (docs/apdu.md): what the applet answers and the reader sends, defined once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80
"""Proprietary commands (COMPUTE DIGITAL SIGNATURE as the real card has it, and ours)."""


class Ins(IntEnum):
    """The instructions of the JPKI AP; those marked *(ours)* in docs/apdu.md included."""

    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    COMPUTE_DIGITAL_SIGNATURE = 0x2A
    ACTIVATE = 0x44  # ours
    GENERATE_ASYMMETRIC_KEY_PAIR = 0x46  # ours (personalisation)
    GET_CHALLENGE = 0x84
    SELECT = 0xA4
    READ_BINARY = 0xB0
    GET_RESPONSE = 0xC0
    UPDATE_BINARY = 0xD6  # ours (personalisation)
    MANAGE = 0xE4  # ours: a signed management instruction


CLA_OF: dict[int, int] = {
    ins: CLA_PROPRIETARY if ins in (Ins.COMPUTE_DIGITAL_SIGNATURE, Ins.MANAGE) else CLA_ISO
    for ins in Ins
}
"""The class each instruction is defined with: ISO commands ``00``, proprietary ones ``80``."""

P1_SELECT_AID, P1_SELECT_EF, P2_NO_RESPONSE_DATA = 0x04, 0x02, 0x0C
P2_SECRET, P2_BIOMETRIC = 0x80, 0x81
"""VERIFY / CHANGE REFERENCE DATA: the selected secret EF, or (phone) its biometric token."""
P1_NEW_VALUE_ONLY = 0x01
"""CHANGE REFERENCE DATA with the new value only (docs/apdu.md)."""


class SW(IntEnum):
    """Every status word the JPKI applet answers (docs/apdu.md "Status words").

    ``MORE_DATA`` and ``WRONG_SECRET`` are families: the low byte carries a count
    (``61 XX`` bytes still available, ``63 Cx`` tries left); use :func:`more_data` and
    :func:`tries_left` to build them.
    """

    OK = 0x9000
    MORE_DATA = 0x6100
    END_OF_FILE = 0x6282
    WRONG_SECRET = 0x63C0
    WRONG_LENGTH = 0x6700
    INCOMPATIBLE_FILE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_BLOCKED = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    INCORRECT_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    WRONG_P1P2 = 0x6A86
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    UNKNOWN = 0x6F00

    @staticmethod
    def is_known(sw: int) -> bool:
        """True for a status word this applet may answer, families included."""
        if sw & 0xFF00 == SW.MORE_DATA:
            return True
        if is_wrong_secret(sw):
            return True
        return sw in SW._value2member_map_


WRONG_LE = 0x6C00
"""``6C XX`` (ISO 7816-3 §10.3.3, T=0): wrong Le, resend with Le = XX. Readers may answer it."""


def more_data(available: int) -> int:
    """``61 XX``: XX bytes still available; ``00`` means 256 or more (ISO 7816-4 §5.6)."""
    return SW.MORE_DATA | (min(available, 256) & 0xFF)


def tries_left(count: int) -> int:
    """``63 Cx``: x further tries allowed (ISO 7816-4 §5.6, counter in the low nibble)."""
    return SW.WRONG_SECRET | min(max(count, 0), 15)


def is_wrong_secret(sw: int) -> bool:
    """``63 Cx``, whatever x."""
    return sw & 0xFFF0 == SW.WRONG_SECRET


class ApduParseError(ValueError):
    """The bytes are not a well-formed command APDU; a card answers ``67 00``."""

    sw = SW.WRONG_LENGTH


@dataclass(frozen=True)
class CommandApdu:
    """A command APDU.

    ``ne`` is the number of response bytes expected (Le decoded: short ``00`` = 256,
    extended ``0000`` = 65536), or ``None`` when the command has no Le field (cases 1 and 3).
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool = False

    @property
    def p1p2(self) -> int:
        return (self.p1 << 8) | self.p2

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Decode cases 1, 2, 3 and 4, short and extended (ISO 7816-4 §5.1).

        Any other length layout raises :class:`ApduParseError`.
        """
        if len(raw) < 4:
            raise ApduParseError("an APDU has at least 4 header bytes")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:  # case 1
            return cls(cla, ins, p1, p2)
        if len(body) == 1:  # case 2 short
            return cls(cla, ins, p1, p2, ne=body[0] or 256)
        if body[0] != 0:  # short Lc: cases 3S and 4S
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1:-1]), ne=body[-1] or 256)
            raise ApduParseError("Lc does not match the body length")
        # body[0] == 0 and more than one byte: extended length fields (§5.1, 3 bytes).
        if len(body) < 3:
            raise ApduParseError("truncated extended length field")
        n = int.from_bytes(body[1:3], "big")
        if len(body) == 3:  # case 2E
            return cls(cla, ins, p1, p2, ne=n or 65536, extended=True)
        if n == 0:
            raise ApduParseError("extended Lc of zero")
        rest = body[3:]
        if len(rest) == n:  # case 3E
            return cls(cla, ins, p1, p2, data=bytes(rest), extended=True)
        if len(rest) == n + 2:  # case 4E: Le is two bytes after an extended Lc
            le = int.from_bytes(rest[-2:], "big")
            return cls(cla, ins, p1, p2, data=bytes(rest[:-2]), ne=le or 65536, extended=True)
        raise ApduParseError("extended Lc does not match the body length")

    def to_bytes(self) -> bytes:
        """Encode, choosing extended fields when asked to or when the data or Ne does not fit
        short ones (Lc up to 255, Ne up to 256; ``00`` / ``0000`` stand for the maximum)."""
        if len(self.data) > 65535:
            raise ValueError("command data longer than an extended Lc")
        if self.ne is not None and not 1 <= self.ne <= 65536:
            raise ValueError("Ne must be 1..65536")
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        extended = self.extended or len(self.data) > 255 or (self.ne or 0) > 256
        out = bytearray(header)
        if self.data:
            if extended:
                out += b"\x00" + len(self.data).to_bytes(2, "big")
            else:
                out.append(len(self.data))
            out += self.data
        if self.ne is not None:
            if extended:
                if not self.data:
                    out.append(0)
                out += (self.ne % 65536).to_bytes(2, "big")
            else:
                out.append(self.ne % 256)
        return bytes(out)


def build_apdu(
    cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None
) -> bytes:
    """Encode a command APDU, short when it fits, else extended.

    ``le`` is the maximum response length wanted: 1-256 short (256 → ``00``), up to 65536
    extended (65536 → ``00 00``); ``None`` means no response data expected (case 1/3).
    """
    return CommandApdu(cla, ins, p1, p2, data, le).to_bytes()


def response(data: bytes, sw: int) -> bytes:
    """Response APDU: data followed by SW1 SW2."""
    return bytes(data) + sw.to_bytes(2, "big")


def split_response(raw: bytes) -> tuple[bytes, int]:
    """Inverse of :func:`response`: (data, SW1SW2 as an int)."""
    if len(raw) < 2:
        raise ValueError(f"a response APDU has at least SW1 SW2: {bytes(raw).hex()}")
    return raw[:-2], int.from_bytes(raw[-2:], "big")
