"""Test helpers for the applet: a key pool (RSA generation is slow), a tiny CA built with
cryptography's builders, a host helper that speaks APDUs, and personalised card/phone."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from mobile_jpki.applet import (
    JpkiApplet,
    Manufacturer,
    MemoryStateStore,
    new_card,
    new_secure_element,
)
from mobile_jpki.clock import FixedClock
from mobile_jpki.protocol.apdu import SW, split_response
from mobile_jpki.protocol.attestation import GeneratedKey
from mobile_jpki.protocol.constants import EF, JPKI_AID, Profile, Slot
from mobile_jpki.protocol.instructions import (
    Action,
    build_instruction,
    certificate_digest,
    instruction_apdu,
    with_new_secrets,
)

NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
CARD_SERIAL = bytes.fromhex("00112233445566778899aabbccddeeff")
PHONE_SERIAL = bytes.fromhex("ffeeddccbbaa99887766554433221100")
CARD_PASSWORD, CARD_PIN = b"ABC123", b"1234"
PHONE_PASSWORD, PHONE_PIN = b"PHONE1", b"5678"
KDF_ITERATIONS = 1000  # tests only: the format, not the cost, is under test


@cache
def rsa_keys() -> tuple[rsa.RSAPrivateKey, ...]:
    return tuple(rsa.generate_private_key(65537, 2048) for _ in range(4))


@cache
def ec_key(n: int) -> ec.EllipticCurvePrivateKey:
    del n  # one cached key per index
    return ec.generate_private_key(ec.SECP256R1())


class KeyPool:
    """key_factory for the applet: hands out pre-generated keys, remembering which."""

    def __init__(self) -> None:
        self._it: Iterator[rsa.RSAPrivateKey] = itertools.cycle(rsa_keys())
        self.issued: list[rsa.RSAPrivateKey] = []

    def __call__(self) -> rsa.RSAPrivateKey:
        key = next(self._it)
        self.issued.append(key)
        return key


class CountingRandom:
    """Deterministic random source."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, size: int) -> bytes:
        self.n += 1
        return bytes((self.n + i) % 256 for i in range(size))


def spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class MiniCa:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)

    @classmethod
    def make(cls, ou: str, key: ec.EllipticCurvePrivateKey) -> MiniCa:
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(self, public_key: rsa.RSAPublicKey, *, aki: bool = True) -> bytes:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "holder")]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=365))
        )
        if aki:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(Encoding.DER)


class Host:
    """Just enough of a host to drive the applet by APDUs in tests."""

    def __init__(self, applet: JpkiApplet) -> None:
        self.applet = applet

    def raw(self, apdu: bytes | str) -> tuple[bytes, int]:
        data = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        return split_response(self.applet.process(data))

    def send(
        self, cla: int, ins: int, p1: int, p2: int, data: bytes = b"", ne: int | None = None
    ) -> tuple[bytes, int]:
        from mobile_jpki.protocol.apdu import CommandApdu

        return self.raw(CommandApdu(cla, ins, p1, p2, data, ne).to_bytes())

    def ok(self, result: tuple[bytes, int]) -> bytes:
        data, sw = result
        assert sw == SW.OK, f"{sw:04X}"
        return data

    def select_ap(self) -> int:
        return self.send(0, 0xA4, 4, 0x0C, JPKI_AID)[1]

    def select(self, ef: int) -> int:
        return self.send(0, 0xA4, 2, 0x0C, ef.to_bytes(2, "big"))[1]

    def verify(self, ef: int, secret: bytes) -> int:
        assert self.select(ef) == SW.OK
        return self.send(0, 0x20, 0, 0x80, secret)[1]

    def change(self, ef: int, secret: bytes, p2: int = 0x80) -> int:
        assert self.select(ef) == SW.OK
        return self.send(0, 0x24, 1, p2, secret)[1]

    def read(self, ef: int) -> bytes:
        """Whole EF by extended READ BINARY."""
        assert self.select(ef) == SW.OK
        data, sw = self.send(0, 0xB0, 0, 0, ne=65536)
        assert sw == SW.END_OF_FILE, f"{sw:04X}"
        return data

    def generate(self, ef: int, challenge: bytes = b"C" * 8) -> GeneratedKey:
        assert self.select(ef) == SW.OK
        data, sw = self.send(0, 0x46, 0, 0, challenge, ne=65536)
        assert sw == SW.OK, f"{sw:04X}"
        return GeneratedKey.parse(data)

    def update(self, ef: int, data: bytes) -> int:
        assert self.select(ef) == SW.OK
        return self.send(0, 0xD6, 0, 0, data)[1]

    def sign(self, ef: int, digest_info: bytes) -> tuple[bytes, int]:
        assert self.select(ef) == SW.OK
        return self.send(0x80, 0x2A, 0, 0x80, digest_info, ne=256)


@dataclass
class Device:
    applet: JpkiApplet
    store: MemoryStateStore
    host: Host
    pool: KeyPool
    sign_ca: MiniCa
    auth_ca: MiniCa
    instruction_key: ec.EllipticCurvePrivateKey
    clock: FixedClock
    manufacturer: Manufacturer | None = None
    keys: dict[int, rsa.RSAPrivateKey] = field(default_factory=dict)

    def reopen(self) -> Device:
        """A new applet object over the same saved bytes (a power cycle of the process)."""
        applet = JpkiApplet(self.store, clock=self.clock, key_factory=self.pool)
        return Device(
            applet,
            self.store,
            Host(applet),
            self.pool,
            self.sign_ca,
            self.auth_ca,
            self.instruction_key,
            self.clock,
            self.manufacturer,
            self.keys,
        )


def personalise(dev: Device, password: bytes, pin: bytes, *, keys: bool) -> None:
    h = dev.host
    assert h.select_ap() == SW.OK
    assert h.update(EF.SIGN_CA_CERT, dev.sign_ca.der) == SW.OK
    assert h.update(EF.AUTH_CA_CERT, dev.auth_ca.der) == SW.OK
    assert h.update(EF.INSTRUCTION_KEY, spki(dev.instruction_key.public_key())) == SW.OK
    if keys:
        enrol_keys(dev)
    assert h.change(EF.SIGN_PASSWORD, password) == SW.OK
    assert h.change(EF.AUTH_PIN, pin) == SW.OK
    assert h.send(0, 0x44, 0, 0)[1] == SW.OK


def enrol_keys(dev: Device) -> None:
    """Generate both keys and write their certificates."""
    h = dev.host
    for key_ef, cert_ef, ca in (
        (EF.SIGN_KEY, EF.SIGN_CERT, dev.sign_ca),
        (EF.AUTH_KEY, EF.AUTH_CERT, dev.auth_ca),
    ):
        h.generate(key_ef)
        key = dev.pool.issued[-1]
        dev.keys[key_ef] = key
        assert h.update(cert_ef, ca.issue(key.public_key())) == SW.OK


def make_card(clock: FixedClock, *, personalised: bool = True) -> Device:
    store = MemoryStateStore()
    pool = KeyPool()
    applet = new_card(
        CARD_SERIAL,
        store,
        clock=clock,
        random=CountingRandom(),
        kdf_iterations=KDF_ITERATIONS,
        key_factory=pool,
    )
    dev = Device(
        applet,
        store,
        Host(applet),
        pool,
        MiniCa.make("sign", ec_key(1)),
        MiniCa.make("auth", ec_key(2)),
        ec_key(3),
        clock,
    )
    if personalised:
        personalise(dev, CARD_PASSWORD, CARD_PIN, keys=True)
    applet.power_on()
    return dev


def make_phone(
    clock: FixedClock,
    *,
    profile: Profile = Profile.PHONE_ANDROID,
    registered: bool = True,
    personalised: bool = True,
) -> Device:
    """A secure element after factory personalisation (CA certs, instruction key, secrets,
    ACTIVATE) and, if ``registered``, with both keys and certificates. ``personalised=False``:
    straight from the factory (attestation key only, personalisation state)."""
    manufacturer = Manufacturer.create(key=ec_key(4), now=NOW - dt.timedelta(days=10))
    attestation_key = ec_key(5)
    cert = manufacturer.attest(
        element_key=attestation_key.public_key(), serial=PHONE_SERIAL, now=NOW
    )
    store = MemoryStateStore()
    pool = KeyPool()
    applet = new_secure_element(
        PHONE_SERIAL,
        store,
        attestation_key,
        cert,
        clock=clock,
        profile=profile,
        random=CountingRandom(),
        kdf_iterations=KDF_ITERATIONS,
        key_factory=pool,
    )
    dev = Device(
        applet,
        store,
        Host(applet),
        pool,
        MiniCa.make("sign", ec_key(1)),
        MiniCa.make("auth", ec_key(2)),
        ec_key(3),
        clock,
        manufacturer,
    )
    if personalised:
        personalise(dev, PHONE_PASSWORD, PHONE_PIN, keys=False)
        if registered:
            enrol_keys(dev)
    applet.power_on()
    return dev


def order(
    dev: Device,
    actions: int,
    *,
    challenge: bool = True,
    serial: bytes | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
    not_after: dt.datetime | None = None,
    password: bytes | None = None,
    pin: bytes | None = None,
    sign_certificates: list[bytes] | None = None,
    auth_certificates: list[bytes] | None = None,
) -> int:
    """Send a management instruction after a GET CHALLENGE (``challenge=False``: bound to a
    made-up challenge instead) and return the SW. A deletion names the certificate its slot
    holds now unless told otherwise (an empty slot: a made-up digest)."""
    h = dev.host
    nonce = b"\x00" * 16
    if challenge:
        nonce, sw = h.send(0, 0x84, 0, 0, ne=16)
        assert sw == SW.OK

    def held(slot: Slot, flag: int, given: list[bytes] | None) -> list[bytes]:
        if given is not None or not actions & flag:
            return given or []
        der = dev.applet.state.slot(slot).certificate
        return [certificate_digest(der) if der is not None else b"\xee" * 32]

    instruction = build_instruction(
        key=key or dev.instruction_key,
        target_serial=serial or dev.applet.state.serial,
        actions=Action(actions),
        not_after=not_after or dev.clock.now() + dt.timedelta(minutes=5),
        challenge=nonce,
        sign_certificates=held(Slot.SIGN, 0x01, sign_certificates),
        auth_certificates=held(Slot.AUTH, 0x02, auth_certificates),
    )
    instruction = with_new_secrets(instruction, signing_password=password, auth_pin=pin)
    return h.raw(instruction_apdu(instruction))[1]
