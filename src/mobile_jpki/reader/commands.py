"""Typed JPKI commands over any :class:`~mobile_jpki.reader.connection.CardConnection`.

The APDUs are the ones in docs/apdu.md (which follows the real card as OpenSC's ``card-jpki.c``
drives it). This layer owns what a connection deliberately does not: APDU length encoding
(ISO 7816-4 §5.1 short and extended), response chaining (``61 XX`` → GET RESPONSE, ISO 7816-4
§5.3.4 / 7816-3 T=0), Le correction (``6C XX``) and translating status words into
:mod:`mobile_jpki.reader.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader import tlv
from mobile_jpki.reader.connection import CardConnection
from mobile_jpki.reader.errors import ApduError, InvalidSecret, ReaderError, error_for
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin

JPKI_AID = bytes.fromhex("D392F000260100000001")
CARD_ATR = bytes.fromhex("3BE000FF8131FE4514")

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282  # ISO 7816-4: "end of file reached before reading Le bytes" (a warning)


class EF(IntEnum):
    """Elementary files of the JPKI AP (JPKI-FACTS.md, docs/apdu.md)."""

    SIGN_CERT = 0x0001
    SIGN_CA = 0x0002
    TOKEN_INFO = 0x0006
    PRESENCE = 0x0008
    AUTH_CERT = 0x000A
    AUTH_CA = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PASSWORD = 0x001B
    ATTESTATION_CERT = 0x0020  # ours, phone only
    SERIAL = 0x0021  # ours
    INSTRUCTION_KEY = 0x0022  # ours


@dataclass(frozen=True)
class SlotFiles:
    """The four EFs that belong to one hierarchy's slot."""

    cert: EF
    ca: EF
    key: EF
    secret: EF
    max_tries: int
    role: int  # the role byte of the attestation (docs/apdu.md: 01 signing, 02 auth)


SLOTS: dict[Hierarchy, SlotFiles] = {
    Hierarchy.SIGN: SlotFiles(EF.SIGN_CERT, EF.SIGN_CA, EF.SIGN_KEY, EF.SIGN_PASSWORD, 5, 0x01),
    Hierarchy.AUTH: SlotFiles(EF.AUTH_CERT, EF.AUTH_CA, EF.AUTH_KEY, EF.AUTH_PIN, 3, 0x02),
}

_SECRET_EFS = {EF.SIGN_PASSWORD: Hierarchy.SIGN, EF.AUTH_PIN: Hierarchy.AUTH}
_KEY_EFS = {EF.SIGN_KEY: Hierarchy.SIGN, EF.AUTH_KEY: Hierarchy.AUTH}


class GeneratedKey(NamedTuple):
    """GENERATE ASYMMETRIC KEY PAIR's answer: the SPKI and, on a phone, the attestation."""

    spki: bytes
    attestation: bytes | None

    def public_key(self) -> rsa.RSAPublicKey:
        key = load_der_public_key(self.spki)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ReaderError("the card generated a non-RSA key")
        return key


def build_apdu(
    cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None
) -> bytes:
    """Encode a command APDU (ISO 7816-4 §5.1), short when it fits, else extended.

    ``le`` is the maximum response length wanted: 1-256 short (256 → ``00``), up to 65536
    extended (65536 → ``00 00``); ``None`` means no response data expected (case 1/3).
    """
    if len(data) > 65535:
        raise ValueError("command data longer than an extended Lc")
    if le is not None and not 1 <= le <= 65536:
        raise ValueError("Le must be 1..65536")
    header = bytes([cla, ins, p1, p2])
    extended = len(data) > 255 or (le is not None and le > 256)
    if not extended:
        body = bytes([len(data)]) + data if data else b""
        if le is not None:
            body += bytes([le & 0xFF])
        return header + body
    le_bytes = b"" if le is None else (le & 0xFFFF).to_bytes(2, "big")
    if data:
        return header + b"\x00" + len(data).to_bytes(2, "big") + data + le_bytes
    return header + b"\x00" + le_bytes


def der_total_length(header: bytes) -> int:
    """Total length of a DER element from its first bytes (X.690 §8.1.3)."""
    try:
        _tag, length, hlen = tlv.parse_header(header)
    except tlv.TlvError as exc:
        raise ReaderError(f"file does not start with a DER element: {header.hex()}") from exc
    return hlen + length


def _secret_hierarchy(secret: EF | int | Hierarchy) -> Hierarchy:
    if isinstance(secret, Hierarchy):
        return secret
    try:
        return _SECRET_EFS[EF(secret)]
    except (ValueError, KeyError):
        raise ValueError(f"EF {secret:04X} is not a secret EF (0018 or 001B)") from None


def _key_ef(key: EF | int | Hierarchy) -> EF:
    if isinstance(key, Hierarchy):
        return SLOTS[key].key
    ef = EF(key)
    if ef not in _KEY_EFS:
        raise ValueError(f"EF {key:04X} is not a key EF (0017 or 001A)")
    return ef


def check_secret(hierarchy: Hierarchy, secret: str) -> bytes:
    """Normalise and validate a secret for its slot; the ASCII bytes the card compares."""
    if hierarchy is Hierarchy.SIGN:
        return normalise_sign_password(secret).encode("ascii")
    return validate_auth_pin(secret).encode("ascii")


class JpkiClient:
    """The JPKI AP's commands, typed. Create one per connection.

    Methods that need the AP select it once per power-up (tracked here; :meth:`select_ap` again
    resets the card's security state, as the real card does).
    """

    def __init__(self, conn: CardConnection, *, extended_length: bool = False) -> None:
        self.conn = conn
        # Real My Number Cards read fine with short Le; extended READ BINARY saves round trips
        # on readers and cards that carry it. Off by default: the conservative choice.
        self.extended_length = extended_length
        self._ap_selected = False

    # -- transport helpers -------------------------------------------------------------

    def transceive(self, apdu: bytes) -> tuple[bytes, int]:
        """Send an APDU, following ``61 XX`` with GET RESPONSE and ``6C XX`` by resending."""
        data, sw = self.conn.transmit(apdu)
        if sw >> 8 == 0x6C:
            # ISO 7816-3 §10.3.3 (T=0): wrong Le; resend the same command with Le = SW2.
            data, sw = self.conn.transmit(apdu[:-1] + bytes([sw & 0xFF]))
        out = bytearray(data)
        while sw >> 8 == 0x61:
            chunk, sw = self.conn.transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
            out += chunk
        return bytes(out), sw

    def command(
        self,
        cla: int,
        ins: int,
        p1: int,
        p2: int,
        data: bytes = b"",
        le: int | None = None,
        *,
        accept: tuple[int, ...] = (SW_OK,),
    ) -> bytes:
        resp, sw = self.transceive(build_apdu(cla, ins, p1, p2, data, le))
        if sw not in accept:
            raise error_for(sw)
        return resp

    # -- selection and files ----------------------------------------------------------------

    def select_ap(self) -> None:
        """SELECT the JPKI AP by AID (``00 A4 04 0C``): clears every verified secret."""
        self.command(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)
        self._ap_selected = True

    def _ensure_ap(self) -> None:
        if not self._ap_selected:
            self.select_ap()

    def forget_selection(self) -> None:
        """Call after the card was power-cycled behind this client's back."""
        self._ap_selected = False

    def reconnect(self) -> None:
        self.conn.reconnect()
        self._ap_selected = False

    def select_ef(self, fid: int) -> None:
        self._ensure_ap()
        self.command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))

    def read_binary(self, offset: int, le: int) -> bytes:
        """READ BINARY at ``offset`` (15 bits, ISO 7816-4 §11.3.3); ``62 82`` returns the rest."""
        if not 0 <= offset <= 0x7FFF:
            raise ValueError("READ BINARY offset must fit 15 bits")
        return self.command(
            0x00, 0xB0, offset >> 8, offset & 0xFF, le=le, accept=(SW_OK, SW_END_OF_FILE)
        )

    def read_file(self, fid: int) -> bytes:
        """Read a whole DER file: the header first for its length (as OpenSC does), then the rest.

        The real card has no FCP to ask the size from (SELECT with P2 ``0C``), so the DER
        length is the only size there is (JPKI-FACTS.md, "read the DER header first").
        """
        self.select_ef(fid)
        head = self.read_binary(0, 4)
        if len(head) >= 2 and head[1] == 0x83 and len(head) < 5:
            head += self.read_binary(len(head), 5 - len(head))
        total = der_total_length(head)
        out = bytearray(head[:total])
        step = 65536 if self.extended_length else 256
        while len(out) < total:
            chunk = self.read_binary(len(out), min(step, total - len(out)))
            if not chunk:
                raise ReaderError(f"EF {fid:04X} ended after {len(out)} of {total} bytes")
            out += chunk
        return bytes(out[:total])

    def read_fixed(self, fid: int, size: int) -> bytes:
        """Read a fixed-size file (token info, presence flags, serial)."""
        self.select_ef(fid)
        return self.read_binary(0, size)

    def read_certificate(self, kind: Hierarchy, *, ca: bool = False) -> x509.Certificate:
        files = SLOTS[kind]
        return x509.load_der_x509_certificate(self.read_file(files.ca if ca else files.cert))

    def token_label(self) -> str:
        """EF 0006: ``JPKIAPICCTOKEN2`` (card), ``JPKIAPGPSETOKEN``/``JPKIAPIOSTOKEN`` (phone)."""
        raw = self.read_fixed(EF.TOKEN_INFO, 32)
        return raw.rstrip(b" \x00").decode("ascii", "replace")

    def presence(self) -> dict[Hierarchy, bool]:
        """EF 0008: which certificates are present (``8F`` per slot: signing, auth)."""
        raw = self.read_fixed(EF.PRESENCE, 3)
        return {Hierarchy.SIGN: raw[:1] == b"\x8f", Hierarchy.AUTH: raw[1:2] == b"\x8f"}

    def serial(self) -> bytes:
        """EF 0021 (ours): the applet's 16-byte serial, the target of management instructions."""
        return self.read_fixed(EF.SERIAL, 16)

    def instruction_public_key_der(self) -> bytes:
        return self.read_file(EF.INSTRUCTION_KEY)

    def attestation_certificate(self) -> x509.Certificate:
        """EF 0020 (ours, phone only): the factory attestation certificate."""
        return x509.load_der_x509_certificate(self.read_file(EF.ATTESTATION_CERT))

    # -- secrets ---------------------------------------------------------------------------

    def verify(self, secret_ef: EF | int | Hierarchy, secret: str) -> None:
        """VERIFY (``00 20 00 80``). Validates the format first: a typo never costs a try.

        Raises :class:`WrongSecret` (with ``tries_left``) or :class:`SecretBlocked`.
        """
        hierarchy = _secret_hierarchy(secret_ef)
        value = check_secret(hierarchy, secret)
        self.select_ef(SLOTS[hierarchy].secret)
        self.command(0x00, 0x20, 0x00, 0x80, value)

    def tries_left(self, secret_ef: EF | int | Hierarchy) -> int:
        """VERIFY without data: the remaining tries, 0 when blocked. Costs no try."""
        hierarchy = _secret_hierarchy(secret_ef)
        self.select_ef(SLOTS[hierarchy].secret)
        _, sw = self.transceive(bytes([0x00, 0x20, 0x00, 0x80]))
        if sw & 0xFFF0 == 0x63C0:
            return sw & 0x0F
        if sw == 0x6984:
            return 0
        if sw == SW_OK:
            # Already verified in this session: a correct entry reset the counter to its max.
            return SLOTS[hierarchy].max_tries
        raise error_for(sw)

    def change_secret(self, secret_ef: EF | int | Hierarchy, new: str) -> None:
        """CHANGE REFERENCE DATA P1 ``01`` (new value only): after a VERIFY, or when never set."""
        hierarchy = _secret_hierarchy(secret_ef)
        value = check_secret(hierarchy, new)
        self.select_ef(SLOTS[hierarchy].secret)
        self.command(0x00, 0x24, 0x01, 0x80, value)

    def verify_biometric(self, token: bytes) -> None:
        """VERIFY P2 ``81`` (ours, phone): the OS-released biometric token for the auth key."""
        self.select_ef(EF.AUTH_PIN)
        self.command(0x00, 0x20, 0x00, 0x81, token)

    def enrol_biometric(self, token: bytes) -> None:
        """CHANGE REFERENCE DATA P2 ``81`` (ours, phone): needs the auth PIN verified."""
        if not 16 <= len(token) <= 64:
            raise InvalidSecret("a biometric token is 16-64 bytes")
        self.select_ef(EF.AUTH_PIN)
        self.command(0x00, 0x24, 0x01, 0x81, token)

    # -- keys ----------------------------------------------------------------------------

    def sign(self, key_ef: EF | int | Hierarchy, digest_info: bytes) -> bytes:
        """COMPUTE DIGITAL SIGNATURE (``80 2A 00 80``): the card pads PKCS#1 v1.5 itself."""
        if len(digest_info) > 245:
            # RFC 8017 §9.2: emLen 256 needs at least 11 bytes of padding.
            raise ValueError("DigestInfo longer than 245 bytes cannot fit RSA-2048 PKCS#1 v1.5")
        self.select_ef(_key_ef(key_ef))
        return self.command(0x80, 0x2A, 0x00, 0x80, digest_info, le=256)

    def get_challenge(self, length: int = 8) -> bytes:
        if not 8 <= length <= 32:
            raise ValueError("GET CHALLENGE length is 8-32")
        self._ensure_ap()
        return self.command(0x00, 0x84, 0x00, 0x00, le=length)

    def generate_key(self, slot: EF | int | Hierarchy, challenge: bytes) -> GeneratedKey:
        """GENERATE ASYMMETRIC KEY PAIR (ours): RSA-2048 in the applet; SPKI (+ attestation)."""
        if not 8 <= len(challenge) <= 64:
            raise ValueError("the key-generation challenge is 8-64 bytes")
        self.select_ef(_key_ef(slot))
        resp = self.command(0x00, 0x46, 0x00, 0x00, challenge, le=256)
        try:
            fields = tlv.parse(resp)
        except tlv.TlvError as exc:
            raise ReaderError(f"malformed key generation response: {exc}") from exc
        if 0x81 not in fields:
            raise ReaderError("key generation response lacks the public key (tag 81)")
        return GeneratedKey(fields[0x81], fields.get(0x82))

    def write_file(self, fid: int, data: bytes) -> None:
        """UPDATE BINARY at offset 0 with the whole content (extended Lc; docs/apdu.md)."""
        self.select_ef(fid)
        # Always extended: a certificate never fits 255 bytes and the applet wants one write.
        apdu = bytes([0x00, 0xD6, 0x00, 0x00, 0x00]) + len(data).to_bytes(2, "big") + data
        _, sw = self.transceive(apdu)
        if sw != SW_OK:
            raise error_for(sw)

    def write_certificate(
        self, kind: Hierarchy, certificate: x509.Certificate | bytes, *, ca: bool = False
    ) -> None:
        files = SLOTS[kind]
        der = (
            certificate
            if isinstance(certificate, bytes)
            else certificate.public_bytes(Encoding.DER)
        )
        self.write_file(files.ca if ca else files.cert, der)

    def activate(self) -> None:
        """ACTIVATE (``00 44 00 00``, ours): personalisation → operational."""
        self._ensure_ap()
        self.command(0x00, 0x44, 0x00, 0x00)

    def send_instruction(self, instruction: bytes) -> None:
        """A signed management instruction (``80 E4``, ours; always extended Lc)."""
        self._ensure_ap()
        apdu = bytes([0x80, 0xE4, 0x00, 0x00, 0x00]) + len(instruction).to_bytes(2, "big")
        _, sw = self.transceive(apdu + instruction)
        if sw != SW_OK:
            raise error_for(sw)


__all__ = [
    "CARD_ATR",
    "EF",
    "JPKI_AID",
    "SLOTS",
    "ApduError",
    "GeneratedKey",
    "JpkiClient",
    "SlotFiles",
    "build_apdu",
    "check_secret",
    "der_total_length",
]
