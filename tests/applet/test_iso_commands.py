"""ISO 7816-4 commands on a personalised card (docs/apdu.md "ISO 7816-4 commands")."""

from __future__ import annotations

import pytest
from applet_fakes import CARD_PASSWORD, CARD_PIN, CARD_SERIAL, Device, order
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from mobile_jpki.applet import JpkiApplet, MemoryStateStore
from mobile_jpki.clock import FixedClock
from mobile_jpki.protocol.apdu import SW
from mobile_jpki.protocol.attestation import GeneratedKey
from mobile_jpki.protocol.constants import ATR, EF, KENMEN_KAKUNIN_AID, Profile

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420") + b"\x11" * 32


def test_power_on_answers_the_atr(card: Device) -> None:
    assert card.applet.power_on() == ATR == bytes.fromhex("3BE000FF8131FE4514")


def test_select(card: Device) -> None:
    h = card.host
    assert h.select(EF.TOKEN_INFO) == SW.FILE_NOT_FOUND  # AP not selected yet
    assert h.send(0, 0xA4, 4, 0x0C, KENMEN_KAKUNIN_AID)[1] == SW.FILE_NOT_FOUND
    assert h.send(0, 0xA4, 4, 0x00, bytes.fromhex("D392F000260100000001"))[1] == SW.OK
    assert h.send(0, 0xA4, 4, 0x0C, bytes.fromhex("D392F000260100000001"))[1] == SW.OK
    assert h.send(0, 0xA4, 4, 0x04, bytes.fromhex("D392F000260100000001"))[1] == SW.WRONG_P1P2
    assert h.send(0, 0xA4, 8, 0x0C, b"\x00\x06")[1] == SW.WRONG_P1P2
    assert h.send(0, 0xA4, 2, 0x0C, b"\x06")[1] == SW.WRONG_LENGTH
    assert h.select(0x0099) == SW.FILE_NOT_FOUND
    assert h.select(EF.ATTESTATION_CERT) == SW.FILE_NOT_FOUND  # phone only
    for ef in (EF.SIGN_CERT, EF.AUTH_CERT, EF.SIGN_KEY, EF.SIGN_PASSWORD, EF.SERIAL):
        assert h.select(ef) == SW.OK


def test_free_files(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.read(EF.TOKEN_INFO) == b"JPKIAPICCTOKEN2".ljust(32, b" ")
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("8F8F00")
    assert h.read(EF.SERIAL) == CARD_SERIAL
    assert h.read(EF.SIGN_CA_CERT) == card.sign_ca.der
    auth_cert = x509.load_der_x509_certificate(h.read(EF.AUTH_CERT))  # free on a card
    assert auth_cert.public_key() == card.keys[EF.AUTH_KEY].public_key()


def test_read_binary_offsets_le_and_end_of_file(card: Device) -> None:
    h = card.host
    h.select_ap()
    der = card.sign_ca.der
    assert h.select(EF.SIGN_CA_CERT) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4) == (der[:4], SW.OK)  # the DER header first, as OpenSC
    assert h.send(0, 0xB0, 0, 2, ne=8) == (der[2:10], SW.OK)
    assert h.send(0, 0xB0, 0, 0, ne=256) == (der[:256], SW.OK)  # short Le 00
    tail = len(der) - 5
    assert h.send(0, 0xB0, tail >> 8, tail & 0xFF, ne=16) == (der[tail:], SW.END_OF_FILE)
    assert h.send(0, 0xB0, 0, 0, ne=65536) == (der, SW.END_OF_FILE)  # extended Le 0000
    n = len(der)
    assert h.send(0, 0xB0, n >> 8, n & 0xFF, ne=1)[1] == SW.WRONG_OFFSET
    assert h.send(0, 0xB0, 0x80, 0, ne=1)[1] == SW.WRONG_P1P2
    assert h.send(0, 0xB0, 0, 0)[1] == SW.WRONG_LENGTH  # no Le


def test_read_binary_refusals(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.send(0, 0xB0, 0, 0, ne=1)[1] == SW.NO_CURRENT_EF
    for ef in (EF.SIGN_KEY, EF.AUTH_KEY, EF.AUTH_PIN, EF.SIGN_PASSWORD):
        assert h.select(ef) == SW.OK
        assert h.send(0, 0xB0, 0, 0, ne=1)[1] == SW.INCOMPATIBLE_FILE
    assert h.select(EF.SIGN_CERT) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    assert x509.load_der_x509_certificate(h.read(EF.SIGN_CERT))


def test_verify_counts_blocks_and_refuses_a_correct_password_after(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.select(EF.SIGN_PASSWORD) == SW.OK
    assert h.send(0, 0x20, 0, 0x80)[1] == 0x63C5
    for left in (4, 3, 2, 1):
        assert h.send(0, 0x20, 0, 0x80, b"WRONG1")[1] == 0x63C0 | left
    assert h.send(0, 0x20, 0, 0x80, b"WRONG1")[1] == SW.REFERENCE_DATA_BLOCKED  # 5th
    assert h.send(0, 0x20, 0, 0x80, CARD_PASSWORD)[1] == SW.REFERENCE_DATA_BLOCKED
    assert h.send(0, 0x20, 0, 0x80)[1] == SW.REFERENCE_DATA_BLOCKED
    assert h.send(0, 0x24, 1, 0x80, b"NEW123")[1] == SW.REFERENCE_DATA_BLOCKED
    # The auth PIN is a separate counter.
    assert h.verify(EF.AUTH_PIN, CARD_PIN) == SW.OK


def test_correct_entry_resets_counter_and_length_errors_are_free(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.verify(EF.AUTH_PIN, b"0000") == 0x63C2
    assert h.send(0, 0x20, 0, 0x80, b"12345")[1] == SW.WRONG_LENGTH  # not counted
    assert h.send(0, 0x20, 0, 0x80, b"")[1] == 0x63C2
    assert h.send(0, 0x20, 0, 0x80, CARD_PIN)[1] == SW.OK
    assert h.send(0, 0x20, 0, 0x80)[1] == 0x63C3
    assert h.verify(EF.SIGN_PASSWORD, b"ABC12") == SW.WRONG_LENGTH
    assert h.send(0, 0x20, 0, 0x81, b"x" * 16)[1] == SW.WRONG_P1P2  # no biometrics on a card
    assert h.send(0, 0x20, 1, 0x80, CARD_PASSWORD)[1] == SW.WRONG_P1P2
    assert h.select(EF.TOKEN_INFO) == SW.OK
    assert h.send(0, 0x20, 0, 0x80, CARD_PIN)[1] == SW.INCOMPATIBLE_FILE


def test_counters_survive_a_new_applet_over_the_saved_state(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.verify(EF.SIGN_PASSWORD, b"WRONG1") == 0x63C4
    again = card.reopen()
    again.applet.power_on()
    again.host.select_ap()
    assert again.host.select(EF.SIGN_PASSWORD) == SW.OK
    assert again.host.send(0, 0x20, 0, 0x80)[1] == 0x63C4


class _FailingStore(MemoryStateStore):
    def __init__(self, data: bytes | None) -> None:
        super().__init__(data)
        self.fail = False

    def save(self, data: bytes) -> None:
        if self.fail:
            raise OSError("card pulled")
        super().save(data)


def test_counter_is_saved_before_the_secret_is_compared(card: Device, clock: FixedClock) -> None:
    store = _FailingStore(card.store.data)
    applet = JpkiApplet(store, clock=clock)
    applet.process(bytes.fromhex("00A4040C0AD392F000260100000001"))
    applet.process(bytes.fromhex("00A4020C020018"))
    before = store.saves
    assert applet.process(bytes.fromhex("002000800431323334")) == b"\x90\x00"
    assert store.saves == before + 2  # decrement, then reset
    store.fail = True  # the decrement cannot be saved: no comparison, no answer about it
    assert applet.process(bytes.fromhex("002000800431323334")) == b"\x6f\x00"
    assert applet.session.verified == set()


def test_security_state_is_cleared_by_reselect_and_power_on(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    assert h.select(EF.SIGN_CERT) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.OK
    h.select_ap()
    assert h.select(EF.SIGN_CERT) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    card.applet.power_on()
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.NO_CURRENT_EF
    h.select_ap()
    assert h.sign(EF.SIGN_KEY, SHA256_DIGEST_INFO)[1] == SW.SECURITY_STATUS_NOT_SATISFIED


def test_change_reference_data(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.change(EF.SIGN_PASSWORD, b"NEW123") == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    assert h.send(0, 0x24, 0, 0x80, b"NEW123")[1] == SW.WRONG_P1P2
    assert h.send(0, 0x24, 1, 0x80, b"NEWPWD")[1] == SW.INCORRECT_DATA  # no digit
    assert h.send(0, 0x24, 1, 0x80, b"new123")[1] == SW.INCORRECT_DATA  # lowercase
    assert h.send(0, 0x24, 1, 0x80, b"NEW123")[1] == SW.OK
    h.select_ap()
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == 0x63C4
    assert h.verify(EF.SIGN_PASSWORD, b"NEW123") == SW.OK
    assert h.verify(EF.AUTH_PIN, CARD_PIN) == SW.OK
    assert h.send(0, 0x24, 1, 0x80, b"12a4")[1] == SW.INCORRECT_DATA
    assert h.send(0, 0x24, 1, 0x81, b"x" * 16)[1] == SW.WRONG_P1P2  # no biometrics on a card
    assert h.select(EF.SIGN_CERT) == SW.OK
    assert h.send(0, 0x24, 1, 0x80, b"1111")[1] == SW.INCOMPATIBLE_FILE


def test_compute_digital_signature(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.sign(EF.SIGN_KEY, SHA256_DIGEST_INFO)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    signature, sw = h.sign(EF.SIGN_KEY, SHA256_DIGEST_INFO)
    assert sw == SW.OK and len(signature) == 256
    card.keys[EF.SIGN_KEY].public_key().verify(
        signature,
        b"\x11" * 32,
        padding.PKCS1v15(),
        Prehashed(hashes.SHA256()),
    )
    # The signing password does not open the auth key.
    assert h.sign(EF.AUTH_KEY, SHA256_DIGEST_INFO)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.sign(EF.SIGN_KEY, b"\x00" * 246)[1] == SW.WRONG_LENGTH
    assert h.sign(EF.SIGN_KEY, b"")[1] == SW.WRONG_LENGTH
    assert h.send(0x80, 0x2A, 0x9E, 0x9A, SHA256_DIGEST_INFO, ne=256)[1] == SW.WRONG_P1P2
    assert h.select(EF.SIGN_CERT) == SW.OK
    assert h.send(0x80, 0x2A, 0, 0x80, SHA256_DIGEST_INFO, ne=256)[1] == SW.INCOMPATIBLE_FILE
    assert h.send(0x00, 0x2A, 0, 0x80, SHA256_DIGEST_INFO, ne=256)[1] == SW.CLA_NOT_SUPPORTED


def test_get_challenge(card: Device) -> None:
    h = card.host
    h.select_ap()
    first, sw = h.send(0, 0x84, 0, 0, ne=8)
    assert sw == SW.OK and len(first) == 8
    second, _ = h.send(0, 0x84, 0, 0, ne=32)
    assert len(second) == 32 and second[:8] != first
    short, sw = h.send(0, 0x84, 0, 0, ne=4)
    assert sw == SW.OK and len(short) == 4  # the tail of a longer C_GenerateRandom
    assert h.send(0, 0x84, 0, 0)[1] == SW.WRONG_LENGTH  # no Le at all
    assert h.send(0, 0x84, 1, 0, ne=8)[1] == SW.WRONG_P1P2


@pytest.mark.parametrize("ne", [33, 100, 256])
def test_get_challenge_above_32_says_the_length_to_ask(card: Device, ne: int) -> None:
    """``6C 20``: wrong Le, 32 available (ISO/IEC 7816-4). It was ``67 00``, which OpenSC
    reported as an error of ``pkcs11-tool --test`` (C_GenerateRandom(100))."""
    h = card.host
    h.select_ap()
    data, sw = h.send(0, 0x84, 0, 0, ne=ne)
    assert (data, sw) == (b"", 0x6C20)


def test_get_challenge_gathers_100_bytes_as_opensc_does(card: Device) -> None:
    """sc_get_challenge: ask for what is left; on 6C XX re-send with Le = XX; repeat."""
    h = card.host
    h.select_ap()
    got = b""
    while len(got) < 100:
        data, sw = h.send(0, 0x84, 0, 0, ne=100 - len(got))
        if sw >> 8 == 0x6C:
            data, sw = h.send(0, 0x84, 0, 0, ne=sw & 0xFF)
        assert sw == SW.OK
        got += data
    assert len(got) == 100 and len(set(got)) > 1


def test_a_short_challenge_is_not_kept_for_an_instruction(card: Device) -> None:
    h = card.host
    h.select_ap()
    h.send(0, 0x84, 0, 0, ne=16)
    h.send(0, 0x84, 0, 0, ne=4)
    assert card.applet.session.challenge is None


def test_unknown_class_and_instruction(card: Device) -> None:
    h = card.host
    assert h.raw("A0A4040C0AD392F000260100000001")[1] == SW.CLA_NOT_SUPPORTED
    assert h.raw("00FF0000")[1] == SW.INS_NOT_SUPPORTED
    assert h.raw("0084000008")[1] == SW.CONDITIONS_NOT_SATISFIED  # no AP selected
    assert h.raw("00B0000001")[1] == SW.NO_CURRENT_EF
    assert h.raw("00A4")[1] == SW.WRONG_LENGTH


def test_get_response_chains_a_long_answer_to_a_short_le(card: Device) -> None:
    """GENERATE's answer (81 + 294-byte SPKI) does not fit a short Le of 256."""
    h = card.host
    h.select_ap()
    assert h.raw("00C0000000")[1] == SW.CONDITIONS_NOT_SATISFIED  # nothing pending
    # Allow re-personalisation so the card generates (tested in test_instructions.py).
    assert order(card, 0x40, challenge=True) == SW.OK
    assert h.select(EF.AUTH_KEY) == SW.OK
    first, sw = h.send(0, 0x46, 0, 0, b"C" * 8, ne=256)
    assert len(first) == 256 and sw & 0xFF00 == 0x6100
    rest_len = sw & 0xFF
    part, sw2 = h.send(0, 0xC0, 0, 0, ne=10)
    assert len(part) == 10 and sw2 == 0x6100 | (rest_len - 10)
    tail, sw3 = h.send(0, 0xC0, 0, 0, ne=256)
    assert sw3 == SW.OK and len(tail) == rest_len - 10
    generated = GeneratedKey.parse(first + part + tail)
    assert generated.attestation is None  # cards do not attest
    assert h.raw("00C0000000")[1] == SW.CONDITIONS_NOT_SATISFIED
    assert card.applet.state.profile is Profile.CARD
