from __future__ import annotations

import datetime as dt
import io

import pytest
from asn1crypto import x509 as ax509
from cryptography.hazmat.primitives import serialization
from pdf_util import blank_pdf
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from rp_pki import T0, SignOnlyKey, TestPki

from mobile_jpki.pki.model import CertKind
from mobile_jpki.pki.tsa import respond
from mobile_jpki.signing.pdf import Level, PdfSigningError, sign_pdf_bytes


def asn1(cert):  # type: ignore[no-untyped-def]
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T, Level.B_LT])
def test_levels_validate_in_pyhanko(tpki: TestPki, level: Level) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    phone = tpki.issue(
        CertKind.PHONE_SIGN,
        800 + list(Level).index(level),
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
    )
    root = phone.ca.certificate
    ocsp = tpki.ocsp(phone, now=now - dt.timedelta(minutes=1))
    signed = sign_pdf_bytes(
        blank_pdf(),
        SignOnlyKey(phone.key),
        phone.cert,
        [root],
        level=level,
        now=now,
        tsa_exchange=lambda req: respond(req, tsa=tpki.tsa(), now=now, serial=7),
        ocsp_responses=[ocsp],
    )
    r = PdfFileReader(io.BytesIO(signed))
    sig = r.embedded_signatures[0]
    vc = ValidationContext(
        trust_roots=[asn1(root)], allow_fetching=False, ocsps=[ocsp], revocation_mode="hard-fail"
    )
    status = validate_pdf_signature(sig, vc, skip_diff=True)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert (status.timestamp_validity is not None) is (level is not Level.B_B)
    assert (r.root.get("/DSS") is not None) is (level is Level.B_LT)


def test_bt_needs_a_tsa(tpki: TestPki) -> None:
    phone = tpki.issue(CertKind.PHONE_SIGN, 810)
    with pytest.raises(PdfSigningError, match="time-stamp"):
        sign_pdf_bytes(blank_pdf(), phone.key, phone.cert, level=Level.B_T, now=T0)
