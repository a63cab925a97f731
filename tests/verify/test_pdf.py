from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pdf_util import blank_pdf
from rp_pki import URLS, Issued, TestPki
from typer.testing import CliRunner

from mobile_jpki.cli import verify as verify_cli
from mobile_jpki.pki import ocsp as pocsp
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.pki.tsa import respond
from mobile_jpki.signing.pdf import Level, sign_pdf_bytes
from mobile_jpki.verify.certificate import Failure, RevocationCheck, TrustAnchors
from mobile_jpki.verify.fetch import FakeFetcher
from mobile_jpki.verify.pdf import pyhanko_validate, verify_pdf
from mobile_jpki.verify.revocation_model import REASON_MEANING

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # pyHanko validates at the wall clock
HOUR = dt.timedelta(hours=1)


def phone(tpki: TestPki, serial: int) -> Issued:
    return tpki.issue(
        CertKind.PHONE_SIGN,
        serial,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=30),
    )


def sign(tpki: TestPki, who: Issued, at: dt.datetime, level: Level, **kw: object) -> bytes:
    return sign_pdf_bytes(
        blank_pdf(),
        who.key,
        who.cert,
        [who.ca.certificate],
        level=level,
        now=at,
        tsa_exchange=lambda req: respond(req, tsa=tpki.tsa(), now=at, serial=int(at.timestamp())),
        **kw,  # type: ignore[arg-type]
    )


def anchors(tpki: TestPki) -> TrustAnchors:
    return TrustAnchors((tpki.root(Hierarchy.SIGN),))


def revoked_online(tpki: TestPki, who: Issued, revoked_at: dt.datetime) -> RevocationCheck:
    return RevocationCheck(
        FakeFetcher(
            ocsp={
                URLS.ocsp(Hierarchy.SIGN): tpki.ocsp_handler(
                    who,
                    status=pocsp.CertStatus.REVOKED,
                    revoked_at=revoked_at,
                    reason=Reason.SUPERSEDED,
                    now=NOW,
                )
            }
        )
    )


def test_new_phone_b_lt_valid(tpki: TestPki) -> None:
    new = phone(tpki, 901)
    ocsp = tpki.ocsp(new, now=NOW - dt.timedelta(minutes=5))
    pdf = sign(tpki, new, NOW - dt.timedelta(minutes=4), Level.B_LT, ocsp_responses=[ocsp])
    v = verify_pdf(pdf, anchors=anchors(tpki), now=NOW, revocation=RevocationCheck(FakeFetcher()))
    assert v.valid, v.summary()
    sig = v.signatures[0]
    assert sig.certificate is not None and sig.certificate.kind is CertKind.PHONE_SIGN
    assert sig.certificate.facts is not None
    assert sig.timestamp == NOW - dt.timedelta(minutes=4)
    # pyHanko's own validator agrees, from the embedded OCSP response alone.
    [status] = pyhanko_validate(
        pdf, anchors=anchors(tpki), allow_fetching=False, ocsp_responses=(ocsp,)
    )
    assert status.bottom_line


def test_old_phone_before_and_after_model_change(tpki: TestPki) -> None:
    old = phone(tpki, 902)
    revoked_at = NOW - HOUR
    check = revoked_online(tpki, old, revoked_at)
    before = sign(tpki, old, NOW - 3 * HOUR, Level.B_T)
    v = verify_pdf(before, anchors=anchors(tpki), now=NOW, revocation=check)
    assert v.valid, v.summary()
    assert v.signatures[0].timestamp == NOW - 3 * HOUR

    after = sign(tpki, old, NOW - HOUR / 2, Level.B_T)
    v = verify_pdf(after, anchors=anchors(tpki), now=NOW, revocation=check)
    assert not v.valid
    cert = v.signatures[0].certificate
    assert cert is not None and cert.failures == (Failure.REVOKED,)
    assert cert.revocation is not None
    assert cert.revocation.reason is Reason.SUPERSEDED and cert.revocation.revoked_at == revoked_at

    # No time-stamp: no proof it was made before the revocation.
    unproven = sign(tpki, old, NOW - 3 * HOUR, Level.B_B)
    v = verify_pdf(unproven, anchors=anchors(tpki), now=NOW, revocation=check)
    assert not v.valid and "superseded" in v.summary()


def test_old_phone_b_lt_embedded_ocsp_proves_status_at_signing(tpki: TestPki) -> None:
    old = phone(tpki, 903)
    signed_at = NOW - 3 * HOUR
    good_then = tpki.ocsp(old, now=signed_at + dt.timedelta(minutes=1))
    pdf = sign(
        tpki, old, signed_at + dt.timedelta(minutes=2), Level.B_LT, ocsp_responses=[good_then]
    )
    # Offline: the responder is unreachable today, the DSS answers.
    v = verify_pdf(pdf, anchors=anchors(tpki), now=NOW, revocation=RevocationCheck(FakeFetcher()))
    assert v.valid, v.summary()
    rev = v.signatures[0].certificate.revocation  # type: ignore[union-attr]
    assert rev is not None and rev.source is not None and rev.source.value == "ocsp"


def test_tampered_pdf(tpki: TestPki) -> None:
    new = phone(tpki, 904)
    pdf = bytearray(sign(tpki, new, NOW, Level.B_B))
    i = pdf.index(b"/MediaBox")
    pdf[i + 12 : i + 13] = b"9"
    v = verify_pdf(bytes(pdf), anchors=anchors(tpki), now=NOW, revocation=None)
    assert not v.valid
    assert Failure.BAD_SIGNATURE in [p.failure for p in v.signatures[0].problems]


def test_unsigned_pdf_is_not_valid(tpki: TestPki) -> None:
    v = verify_pdf(blank_pdf(), anchors=anchors(tpki), now=NOW, revocation=None)
    assert not v.valid and v.summary() == "no signature in the document"


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="pyhanko")


def test_verify_pdf_cli_says_valid_when_signed_and_revoked_later(
    tpki: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 §6: it printed "revocation: good (cessationOfOperation …)" for this."""
    old = phone(tpki, 905)
    revoked_at = NOW - HOUR
    check = RevocationCheck(
        FakeFetcher(
            ocsp={
                URLS.ocsp(Hierarchy.SIGN): tpki.ocsp_handler(
                    old,
                    status=pocsp.CertStatus.REVOKED,
                    revoked_at=revoked_at,
                    reason=Reason.CESSATION_OF_OPERATION,
                    now=NOW,
                )
            }
        )
    )
    signed_at = NOW - 3 * HOUR
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(sign(tpki, old, signed_at, Level.B_T))
    root = tmp_path / "sign-ca.pem"
    root.write_bytes(tpki.root(Hierarchy.SIGN).public_bytes(Encoding.PEM))
    monkeypatch.setattr(verify_cli, "_check", lambda *_: check)

    out = CliRunner().invoke(verify_cli.app, ["pdf", str(pdf), "--trust", str(root)])

    assert out.exit_code == 0, out.output
    [line] = [x for x in out.output.splitlines() if x.startswith("revocation: ")]
    assert line == (
        f"revocation: valid when signed (time-stamp {signed_at:%Y-%m-%dT%H:%M:%SZ}); "
        f"revoked later, at {revoked_at:%Y-%m-%dT%H:%M:%SZ} "
        f"(cessationOfOperation: {REASON_MEANING[5]}) [ocsp]"
    )
    assert "revocation: good" not in out.output
