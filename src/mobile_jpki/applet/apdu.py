"""Command and response APDUs (ISO/IEC 7816-4 §5.1) and the status words of docs/apdu.md."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


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
        if sw & 0xFFF0 == SW.WRONG_SECRET:
            return True
        return sw in SW._value2member_map_


def more_data(available: int) -> int:
    """``61 XX``: XX bytes still available; ``00`` means 256 or more (ISO 7816-4 §5.6)."""
    return SW.MORE_DATA | (min(available, 256) & 0xFF)


def tries_left(count: int) -> int:
    """``63 Cx``: x further tries allowed (ISO 7816-4 §5.6, counter in the low nibble)."""
    return SW.WRONG_SECRET | min(max(count, 0), 15)


class AppletError(Exception):
    """Base of the applet's errors; each carries the status word it is answered with."""

    def __init__(self, sw: int, message: str = "") -> None:
        super().__init__(message or f"SW {sw:04X}")
        self.sw = sw


class ApduParseError(AppletError):
    """The bytes are not a well-formed command APDU: answered ``67 00``."""

    def __init__(self, message: str) -> None:
        super().__init__(SW.WRONG_LENGTH, message)


@dataclass(frozen=True)
class CommandApdu:
    """A parsed command APDU.

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
        """Encode, choosing extended fields when the data or Ne does not fit short ones."""
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


def response(data: bytes, sw: int) -> bytes:
    """Response APDU: data followed by SW1 SW2."""
    return bytes(data) + sw.to_bytes(2, "big")


def split_response(raw: bytes) -> tuple[bytes, int]:
    """Inverse of :func:`response`."""
    if len(raw) < 2:
        raise ValueError("a response APDU has at least SW1 SW2")
    return raw[:-2], int.from_bytes(raw[-2:], "big")
