"""Fuzzing, bounded for CI (hypothesis, a few hundred examples each, no deadline).

- APDUs: :meth:`CommandApdu.parse` over random bytes raises only :class:`ApduParseError`; the
  applet answers any command sequence with a status word it documents and never the last-resort
  ``6F 00`` (ISO 7816-4 §5.6 "no precise diagnosis" — our applet answers it only when an
  exception escaped, i.e. a bug).
- OCSP: :func:`pki.ocsp.parse_request` over mutated valid requests and random bytes raises only
  :class:`MalformedRequest`; the HTTP responder never answers 5xx (RFC 6960 §2.3: a malformed
  request is ``malformedRequest``, not a server error).
- CMS applications: mutated card-signed applications always get a 4xx problem+json, and nothing
  changes (applications, audit log).
- CRLs on the relying-party side: :func:`verify.crl_check.verify_crls` with mutated DER gives a
  verdict or a :class:`VerifyError`, nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as x509_ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from mobile_jpki.applet.factory import new_card
from mobile_jpki.applet.jpki import JpkiApplet
from mobile_jpki.applet.state import MemoryStateStore
from mobile_jpki.clock import FixedClock, SystemClock
from mobile_jpki.pki.ocsp import MalformedRequest, parse_request
from mobile_jpki.protocol.apdu import SW, ApduParseError, CommandApdu
from mobile_jpki.runtime import System, open_system
from mobile_jpki.verify.crl_check import verify_crls
from mobile_jpki.verify.errors import VerifyError

from .stress_harness import (
    BOTH,
    CARD_PASSWORD,
    PHONE_PASSWORD,
    PHONE_PIN,
    Deployment,
    audit_length,
    chip_serial,
    make_deployment,
    new_phone,
    new_resident,
    pooled_key,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
JPKI_AID = bytes.fromhex("D392F000260100000001")
SELECT_AP = bytes.fromhex("00A4040C0A") + JPKI_AID


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """Byte flips, truncation, insertion and deletion of a valid DER object (the mutations a
    network or an attacker produces; random bytes alone rarely reach past the first tag)."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "length"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:  # a DER length byte made huge or short
            data[min(at, 1)] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x84, 0xFF]))
    return bytes(data)


# --- APDUs -------------------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=300))
def test_apdu_parse_raises_only_parse_errors(raw: bytes) -> None:
    try:
        apdu = CommandApdu.parse(raw)
    except ApduParseError as exc:
        assert exc.sw == SW.WRONG_LENGTH
        return
    assert (apdu.cla, apdu.ins) == (raw[0], raw[1])


def _card() -> JpkiApplet:
    return new_card(
        chip_serial(),
        MemoryStateStore(),
        clock=FixedClock(dt.datetime(2026, 11, 27, tzinfo=dt.UTC)),
        key_factory=pooled_key,
        kdf_iterations=1,
    )


_INS = [0xA4, 0xB0, 0x20, 0x24, 0x2A, 0x84, 0x46, 0x47, 0xD6, 0x2C, 0xE2, 0xCB, 0x00, 0xFF]


@st.composite
def commands(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=270))
    header = bytes(
        [
            draw(st.sampled_from([0x00, 0x80, 0x0C, 0x10, draw(st.integers(0, 255))])),
            draw(st.sampled_from([*_INS, draw(st.integers(0, 255))])),
            draw(st.integers(0, 255)),
            draw(st.integers(0, 255)),
        ]
    )
    data = draw(st.binary(max_size=260))
    if data and len(data) <= 255:
        body = bytes([len(data)]) + data
    elif data:
        body = b"\x00" + len(data).to_bytes(2, "big") + data
    else:
        body = b""
    le = draw(st.sampled_from([b"", b"\x00", b"\x20", b"\x00\x00\x00"]))
    return header + body + le


@FUZZ
@given(st.lists(commands(), min_size=1, max_size=8))
def test_applet_answers_every_command_with_a_known_status_word(sequence: list[bytes]) -> None:
    card = _card()
    for raw in [SELECT_AP, *sequence]:
        answer = card.process(raw)
        assert len(answer) >= 2
        sw = int.from_bytes(answer[-2:], "big")
        assert SW.is_known(sw), f"{raw.hex()} -> {sw:04X}"
        assert sw != SW.UNKNOWN, f"{raw.hex()} escaped as 6F00"


# --- a running system, in process ------------------------------------------------------------
@dataclass
class Fixture:
    dep: Deployment
    system: System
    http: httpx.Client
    application: bytes
    device_credential: str
    phone_cert: x509.Certificate
    issuer: x509.Certificate
    ocsp_request: bytes
    crl: bytes


@pytest.fixture(scope="module")
def sut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    dep = make_deployment(tmp_path_factory.mktemp("fuzz") / "data")
    system = open_system(dep.settings, SystemClock())
    try:
        with system.client() as http:
            resident = new_resident(dep, http, "fuzz")
            phone = new_phone(dep, http, "fuzz-first")
            phone.apply(
                resident.card,
                card_password=CARD_PASSWORD,
                certificates=BOTH,
                sign_password=PHONE_PASSWORD,
                auth_pin=PHONE_PIN,
            )
            system.context.work_once()
            phone.register(sign_password=PHONE_PASSWORD, auth_pin=PHONE_PIN)
            phone.element.select_ap()
            phone.element.verify(BOTH[0], PHONE_PASSWORD)
            cert = phone.element.read_certificate(BOTH[0])
            issuer = next(
                s.certificate
                for s in system.ca.cas()
                if s.certificate.subject == cert.issuer and s.active
            )
            # A second phone's model change, signed by the card but never sent: the fuzz seed.
            other = new_phone(dep, http, "fuzz-second")
            application = other.prepare_application(
                resident.card,
                card_password=CARD_PASSWORD,
                certificates=BOTH,
                sign_password=PHONE_PASSWORD,
                auth_pin=PHONE_PIN,
                model_change=True,
                consent=True,
            )
            request = (
                x509_ocsp.OCSPRequestBuilder()
                .add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 (RFC 5019 CertID)
                .build()
                .public_bytes(Encoding.DER)
            )
            cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            crl_url = str(cdp[0].full_name[0].value)
            crl = http.get(urlsplit(crl_url).path).raise_for_status().content
            assert other.api.credential is not None
            yield Fixture(
                dep, system, http, application, other.api.credential, cert, issuer, request, crl
            )
    finally:
        system.close()


def _ocsp_path(cert: x509.Certificate) -> str:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    url = next(
        str(d.access_location.value)
        for d in aia
        if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP
    )
    return urlsplit(url).path or "/"


def test_the_fuzz_seeds_are_valid(sut: Fixture) -> None:
    """The mutations start from objects the system accepts (else the fuzzing proves little)."""
    parse_request(sut.ocsp_request)
    verdict = verify_crls(sut.phone_cert, sut.issuer, sut.crl, now=SystemClock().now())
    assert verdict.status.value == "good"
    answer = sut.http.post(
        _ocsp_path(sut.phone_cert),
        content=sut.ocsp_request,
        headers={"Content-Type": "application/ocsp-request"},
    )
    assert answer.status_code == 200
    assert x509_ocsp.load_der_ocsp_response(answer.content).certificate_status.name == "GOOD"


@FUZZ
@given(st.data())
def test_ocsp_request_parsing_raises_only_malformed_request(
    sut: Fixture, data: st.DataObject
) -> None:
    raw = data.draw(st.one_of(mutated(sut.ocsp_request), st.binary(max_size=200)))
    try:
        parse_request(raw)
    except MalformedRequest:
        pass


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_ocsp_responder_never_answers_5xx(sut: Fixture, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(mutated(sut.ocsp_request), st.binary(max_size=200)))
    path = _ocsp_path(sut.phone_cert)
    post = sut.http.post(path, content=raw, headers={"Content-Type": "application/ocsp-request"})
    assert post.status_code < 500, post.text
    encoded = base64.b64encode(raw).decode("ascii")
    get = sut.http.get(f"{path.rstrip('/')}/{encoded}")
    assert get.status_code < 500, get.text


def _counts(sut: Fixture) -> tuple[int, int]:
    db = sut.system.ca.db
    with db.engine.connect() as conn:
        apps = int(conn.execute(text("SELECT count(*) FROM portal_application")).scalar_one())
    return apps, audit_length(db)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_mutated_applications_get_4xx_problems_and_change_nothing(
    sut: Fixture, data: st.DataObject
) -> None:
    raw = data.draw(mutated(sut.application))
    before = _counts(sut)
    answer = sut.http.post(
        "/portal/v1/applications",
        json={"cms": base64.b64encode(raw).decode("ascii")},
        headers={"Authorization": f"Bearer {sut.device_credential}"},
    )
    if raw != sut.application:
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"]
        assert _counts(sut) == before


@FUZZ
@given(st.data())
def test_mutated_crls_give_a_verdict_or_a_clear_error(sut: Fixture, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(mutated(sut.crl), st.binary(max_size=100)))
    try:
        verify_crls(sut.phone_cert, sut.issuer, raw, now=SystemClock().now())
    except VerifyError:
        pass
