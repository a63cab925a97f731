"""Typed JPKI commands over any :class:`~mobile_jpki.reader.connection.CardConnection`.

The APDUs are the ones in docs/apdu.md (which follows the real card as OpenSC's ``card-jpki.c``
drives it), encoded by :mod:`mobile_jpki.protocol` (the same definitions the applet answers
with). This layer owns what a connection deliberately does not: response chaining (``61 XX`` →
GET RESPONSE, ISO 7816-4 §5.3.4 / 7816-3 T=0), Le correction (``6C XX``) and translating status
words into :mod:`mobile_jpki.reader.errors`.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol import tlv
from mobile_jpki.protocol.apdu import (
    CLA_OF,
    P1_NEW_VALUE_ONLY,
    P1_SELECT_AID,
    P1_SELECT_EF,
    P2_BIOMETRIC,
    P2_NO_RESPONSE_DATA,
    P2_SECRET,
    SW,
    WRONG_LE,
    CommandApdu,
    Ins,
    build_apdu,
    is_wrong_secret,
)
from mobile_jpki.protocol.attestation import GeneratedKey
from mobile_jpki.protocol.constants import (
    CERTS_PRESENT_LENGTH,
    EF,
    JPKI_AID,
    KEY_EFS,
    PRESENT,
    SECRET_EFS,
    SERIAL_LENGTH,
    TOKEN_INFO_LENGTH,
    Slot,
)
from mobile_jpki.protocol.instructions import instruction_apdu
from mobile_jpki.reader.connection import CardConnection
from mobile_jpki.reader.errors import (
    InvalidSecret,
    ReaderError,
    SecretBlocked,
    WrongSecret,
    error_for,
)
from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin


def der_total_length(header: bytes) -> int:
    """Total length of a DER element from its first bytes (X.690 §8.1.3)."""
    try:
        _tag, length, hlen = tlv.read_header(header, strict=False)
    except tlv.TlvError as exc:
        raise ReaderError(f"file does not start with a DER element: {header.hex()}") from exc
    return hlen + length


def _slot(of: EF | int | Hierarchy, efs: frozenset[EF], what: str) -> Slot:
    if isinstance(of, Hierarchy):
        return Slot.of_hierarchy(of)
    slot = Slot.of(of)
    if slot is None or of not in efs:
        raise ValueError(f"EF {of:04X} is not a {what}")
    return slot


def _secret_slot(secret: EF | int | Hierarchy) -> Slot:
    return _slot(secret, SECRET_EFS, "secret EF (0018 or 001B)")


def _key_slot(key: EF | int | Hierarchy) -> Slot:
    return _slot(key, KEY_EFS, "key EF (0017 or 001A)")


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
        if sw & 0xFF00 == WRONG_LE:
            # ISO 7816-3 §10.3.3 (T=0): wrong Le; resend the same command with Le = SW2.
            data, sw = self.conn.transmit(apdu[:-1] + bytes([sw & 0xFF]))
        out = bytearray(data)
        while sw & 0xFF00 == SW.MORE_DATA:
            get_response = CommandApdu(
                CLA_OF[Ins.GET_RESPONSE], Ins.GET_RESPONSE, 0, 0, ne=(sw & 0xFF) or 256
            )
            chunk, sw = self.conn.transmit(get_response.to_bytes())
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
        accept: tuple[int, ...] = (SW.OK,),
    ) -> bytes:
        resp, sw = self.transceive(build_apdu(cla, ins, p1, p2, data, le))
        if sw not in accept:
            raise error_for(sw)
        return resp

    def _send(
        self,
        ins: Ins,
        p1: int,
        p2: int,
        data: bytes = b"",
        le: int | None = None,
        *,
        accept: tuple[int, ...] = (SW.OK,),
    ) -> bytes:
        """:meth:`command` with the class the instruction is defined with (docs/apdu.md)."""
        return self.command(CLA_OF[ins], ins, p1, p2, data, le, accept=accept)

    # -- selection and files ----------------------------------------------------------------

    def select_ap(self) -> None:
        """SELECT the JPKI AP by AID (``00 A4 04 0C``): clears every verified secret."""
        self._send(Ins.SELECT, P1_SELECT_AID, P2_NO_RESPONSE_DATA, JPKI_AID)
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
        self._send(Ins.SELECT, P1_SELECT_EF, P2_NO_RESPONSE_DATA, fid.to_bytes(2, "big"))

    def read_binary(self, offset: int, le: int) -> bytes:
        """READ BINARY at ``offset`` (15 bits, ISO 7816-4 §11.3.3); ``62 82`` returns the rest."""
        if not 0 <= offset <= 0x7FFF:
            raise ValueError("READ BINARY offset must fit 15 bits")
        return self._send(
            Ins.READ_BINARY,
            offset >> 8,
            offset & 0xFF,
            le=le,
            accept=(SW.OK, SW.END_OF_FILE),
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
        slot = Slot.of_hierarchy(kind)
        return x509.load_der_x509_certificate(self.read_file(slot.ca_ef if ca else slot.cert_ef))

    def token_label(self) -> str:
        """EF 0006: ``JPKIAPICCTOKEN2`` (card), ``JPKIAPGPSETOKEN``/``JPKIAPIOSTOKEN`` (phone)."""
        raw = self.read_fixed(EF.TOKEN_INFO, TOKEN_INFO_LENGTH)
        return raw.rstrip(b" \x00").decode("ascii", "replace")

    def presence(self) -> dict[Hierarchy, bool]:
        """EF 0008: which certificates are present (``8F`` per slot: signing, auth)."""
        raw = self.read_fixed(EF.CERTS_PRESENT, CERTS_PRESENT_LENGTH)
        return {
            Hierarchy.SIGN: raw[:1] == bytes((PRESENT,)),
            Hierarchy.AUTH: raw[1:2] == bytes((PRESENT,)),
        }

    def serial(self) -> bytes:
        """EF 0021 (ours): the applet's 16-byte serial, the target of management instructions."""
        return self.read_fixed(EF.SERIAL, SERIAL_LENGTH)

    def instruction_public_key_der(self) -> bytes:
        return self.read_file(EF.INSTRUCTION_KEY)

    def attestation_certificate(self) -> x509.Certificate:
        """EF 0020 (ours, phone only): the factory attestation certificate."""
        return x509.load_der_x509_certificate(self.read_file(EF.ATTESTATION_CERT))

    # -- secrets ---------------------------------------------------------------------------

    def verify(self, secret_ef: EF | int | Hierarchy, secret: str) -> None:
        """VERIFY (``00 20 00 80``). Validates the format first: a typo never costs a try.

        Raises :class:`WrongSecret` (with ``tries_left``) or :class:`SecretBlocked`, each naming
        the slot verified (``secret``).
        """
        slot = _secret_slot(secret_ef)
        value = check_secret(slot.hierarchy, secret)
        self.select_ef(slot.secret_ef)
        try:
            self._send(Ins.VERIFY, 0x00, P2_SECRET, value)
        except WrongSecret as exc:
            # 63 Cx / 69 84 do not say which secret: this VERIFY does (its current EF), so
            # a caller can tell the person "wrong PIN" rather than "wrong password or PIN".
            raise WrongSecret(exc.tries_left, slot.hierarchy) from None
        except SecretBlocked as exc:
            raise SecretBlocked(exc.sw, slot.hierarchy) from None

    def tries_left(self, secret_ef: EF | int | Hierarchy) -> int:
        """VERIFY without data: the remaining tries, 0 when blocked. Costs no try."""
        slot = _secret_slot(secret_ef)
        self.select_ef(slot.secret_ef)
        _, sw = self.transceive(build_apdu(CLA_OF[Ins.VERIFY], Ins.VERIFY, 0x00, P2_SECRET))
        if is_wrong_secret(sw):
            return sw & 0x0F
        if sw == SW.REFERENCE_DATA_BLOCKED:
            return 0
        if sw == SW.OK:
            # Already verified in this session: a correct entry reset the counter to its max.
            return slot.max_tries
        raise error_for(sw)

    def change_secret(self, secret_ef: EF | int | Hierarchy, new: str) -> None:
        """CHANGE REFERENCE DATA P1 ``01`` (new value only): after a VERIFY, or when never set."""
        slot = _secret_slot(secret_ef)
        value = check_secret(slot.hierarchy, new)
        self.select_ef(slot.secret_ef)
        self._send(Ins.CHANGE_REFERENCE_DATA, P1_NEW_VALUE_ONLY, P2_SECRET, value)

    def verify_biometric(self, token: bytes) -> None:
        """VERIFY P2 ``81`` (ours, phone): the OS-released biometric token for the auth key."""
        self.select_ef(EF.AUTH_PIN)
        self._send(Ins.VERIFY, 0x00, P2_BIOMETRIC, token)

    def enrol_biometric(self, token: bytes) -> None:
        """CHANGE REFERENCE DATA P2 ``81`` (ours, phone): needs the auth PIN verified."""
        if not 16 <= len(token) <= 64:
            raise InvalidSecret("a biometric token is 16-64 bytes")
        self.select_ef(EF.AUTH_PIN)
        self._send(Ins.CHANGE_REFERENCE_DATA, P1_NEW_VALUE_ONLY, P2_BIOMETRIC, token)

    # -- keys ----------------------------------------------------------------------------

    def sign(self, key_ef: EF | int | Hierarchy, digest_info: bytes) -> bytes:
        """COMPUTE DIGITAL SIGNATURE (``80 2A 00 80``): the card pads PKCS#1 v1.5 itself."""
        if len(digest_info) > 245:
            # RFC 8017 §9.2: emLen 256 needs at least 11 bytes of padding.
            raise ValueError("DigestInfo longer than 245 bytes cannot fit RSA-2048 PKCS#1 v1.5")
        self.select_ef(_key_slot(key_ef).key_ef)
        return self._send(Ins.COMPUTE_DIGITAL_SIGNATURE, 0x00, P2_SECRET, digest_info, le=256)

    def get_challenge(self, length: int = 8) -> bytes:
        if not 8 <= length <= 32:
            raise ValueError("GET CHALLENGE length is 8-32")
        self._ensure_ap()
        return self._send(Ins.GET_CHALLENGE, 0x00, 0x00, le=length)

    def generate_key(self, slot: EF | int | Hierarchy, challenge: bytes) -> GeneratedKey:
        """GENERATE ASYMMETRIC KEY PAIR (ours): RSA-2048 in the applet; SPKI (+ attestation)."""
        if not 8 <= len(challenge) <= 64:
            raise ValueError("the key-generation challenge is 8-64 bytes")
        self.select_ef(_key_slot(slot).key_ef)
        resp = self._send(Ins.GENERATE_ASYMMETRIC_KEY_PAIR, 0x00, 0x00, challenge, le=256)
        try:
            generated = GeneratedKey.parse(resp)
            generated.public_key()
        except ValueError as exc:
            raise ReaderError(str(exc)) from exc
        return generated

    def write_file(self, fid: int, data: bytes) -> None:
        """UPDATE BINARY at offset 0 with the whole content (extended Lc; docs/apdu.md)."""
        self.select_ef(fid)
        # Always extended: a certificate never fits 255 bytes and the applet wants one write.
        ins = Ins.UPDATE_BINARY
        _, sw = self.transceive(CommandApdu(CLA_OF[ins], ins, 0, 0, data, extended=True).to_bytes())
        if sw != SW.OK:
            raise error_for(sw)

    def write_certificate(
        self, kind: Hierarchy, certificate: x509.Certificate | bytes, *, ca: bool = False
    ) -> None:
        slot = Slot.of_hierarchy(kind)
        der = (
            certificate
            if isinstance(certificate, bytes)
            else certificate.public_bytes(Encoding.DER)
        )
        self.write_file(slot.ca_ef if ca else slot.cert_ef, der)

    def activate(self) -> None:
        """ACTIVATE (``00 44 00 00``, ours): personalisation → operational."""
        self._ensure_ap()
        self._send(Ins.ACTIVATE, 0x00, 0x00)

    def send_instruction(self, instruction: bytes) -> None:
        """A signed management instruction (``80 E4``, ours; always extended Lc)."""
        self._ensure_ap()
        _, sw = self.transceive(instruction_apdu(instruction))
        if sw != SW.OK:
            raise error_for(sw)


__all__ = [
    "JpkiClient",
    "check_secret",
    "der_total_length",
]
