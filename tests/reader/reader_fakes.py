"""A tiny ISO 7816-4 applet for transport tests: SELECT, READ BINARY, VERIFY, SIGN, GET RESPONSE.

Not the JPKI applet (that is ``mobile_jpki.applet``): just enough of docs/apdu.md to exercise
length encodings, response chaining and status-word mapping independently of it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.protocol.constants import ATR, JPKI_AID


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


class FakeApplet:
    def __init__(
        self,
        files: dict[int, bytes],
        *,
        sign_key: rsa.RSAPrivateKey | None = None,
        password: bytes = b"ABC123",
        max_short: int = 256,
    ) -> None:
        self.files = files
        self.sign_key = sign_key
        self.password = password
        self.tries = 5
        self.max_short = max_short  # responses longer than this come back as 61 XX
        self.apdus: list[bytes] = []
        self.power_on()

    def power_on(self) -> bytes:
        self.selected_ap = False
        self.ef: int | None = None
        self.verified = False
        self.pending = b""
        return ATR

    def _out(self, data: bytes) -> bytes:
        if len(data) <= self.max_short:
            return _sw(0x9000, data)
        self.pending = data[self.max_short :]
        return _sw(0x6100 | (min(len(self.pending), 256) & 0xFF), data[: self.max_short])

    def process(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        data = b""
        if len(body) > 1 and body[0] == 0 and len(body) >= 3 and len(body) != 3:
            n = int.from_bytes(body[1:3], "big")
            data = body[3 : 3 + n]
        elif len(body) > 1 and body[0] != 0:
            data = body[1 : 1 + body[0]]
        if ins == 0xC0:
            chunk, self.pending = self.pending[:256], self.pending[256:]
            if self.pending:
                return _sw(0x6100 | (min(len(self.pending), 256) & 0xFF), chunk)
            return _sw(0x9000, chunk)
        if ins == 0xA4 and p1 == 0x04:
            if data != JPKI_AID:
                return _sw(0x6A82)
            self.power_on()
            self.selected_ap = True
            return _sw(0x9000)
        if not self.selected_ap:
            return _sw(0x6A82 if ins == 0xA4 else 0x6986)
        if ins == 0xA4:
            fid = int.from_bytes(data, "big")
            if fid not in self.files and fid not in (0x001A, 0x001B):
                return _sw(0x6A82)
            self.ef = fid
            return _sw(0x9000)
        if ins == 0xB0:
            if self.ef is None:
                return _sw(0x6986)
            content = self.files[self.ef]
            off = (p1 << 8) | p2
            le = body[-1] or 256 if len(body) == 1 else int.from_bytes(body[-2:], "big") or 65536
            if off >= len(content):
                return _sw(0x6B00)
            part = content[off : off + le]
            if len(part) < le:
                return _sw(0x6282, part)
            return self._out(part)
        if ins == 0x20 and self.ef == 0x001B:
            if self.tries == 0:
                return _sw(0x6984)
            if not data:
                return _sw(0x63C0 | self.tries)
            self.tries -= 1
            if data == self.password:
                self.tries = 5
                self.verified = True
                return _sw(0x9000)
            return _sw(0x63C0 | self.tries if self.tries else 0x6984)
        if ins == 0x2A and self.ef == 0x001A and cla == 0x80:
            if not self.verified or self.sign_key is None:
                return _sw(0x6982)
            numbers = self.sign_key.private_numbers()
            k = self.sign_key.key_size // 8
            em = b"\x00\x01" + b"\xff" * (k - len(data) - 3) + b"\x00" + data
            modulus = numbers.public_numbers.n
            sig = pow(int.from_bytes(em, "big"), numbers.d, modulus).to_bytes(k, "big")
            return self._out(sig)
        return _sw(0x6D00)
