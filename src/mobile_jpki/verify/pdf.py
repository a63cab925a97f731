"""Verify PAdES signatures in a PDF made by a JPKI card or phone.

Two validators, on purpose:
- pyHanko checks the PDF side: the byte range and CMS signature are intact, what the signature
  covers and whether later revisions changed the signed content, and the signature time-stamp
  (its imprint, its TSA's chain to the time-stamp anchors);
- this kit judges the signer's certificate (:func:`~mobile_jpki.verify.certificate.
  verify_certificate`): JPKI kind, basic four facts, validity and revocation as of the proven
  time — the time-stamp's genTime when there is one — from the evidence in the document's DSS
  first, then online. That is what lets a signature the old phone made before its model-change
  revocation validate, while one made after it is reported revoked with reason and time.

:func:`pyhanko_validate` runs pyHanko's own validator end to end instead (trusting only the
anchors given, fetching revocation from the certificate's URLs), for a second opinion.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from mobile_jpki.pki.model import CertKind, utc
from mobile_jpki.verify.certificate import (
    CertificateVerdict,
    Failure,
    Problem,
    RevocationCheck,
    TrustAnchors,
    Usage,
    verify_certificate,
)
from mobile_jpki.verify.errors import MalformedInput
from mobile_jpki.verify.revocation_model import Evidence


@dataclass(frozen=True)
class PdfSignatureVerdict:
    field_name: str
    intact: bool
    coverage: str  # pyHanko's SignatureCoverageLevel name, e.g. ENTIRE_FILE
    signer: x509.Certificate | None
    timestamp: dt.datetime | None  # proven signing time (a valid, trusted signature time-stamp)
    claimed_time: dt.datetime | None  # the signer's own claim (signingTime)
    certificate: CertificateVerdict | None
    problems: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.problems and self.certificate is not None and self.certificate.valid

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        return self.problems + (self.certificate.problems if self.certificate else ())

    def summary(self) -> str:
        if self.valid:
            return "valid"
        return "; ".join(str(p) for p in self.all_problems)


@dataclass(frozen=True)
class PdfVerdict:
    signatures: tuple[PdfSignatureVerdict, ...]

    @property
    def valid(self) -> bool:
        return bool(self.signatures) and all(s.valid for s in self.signatures)

    def summary(self) -> str:
        if not self.signatures:
            return "no signature in the document"
        return "; ".join(f"{s.field_name}: {s.summary()}" for s in self.signatures)


def _asn1(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _dss_evidence(reader: PdfFileReader) -> Evidence:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:
        return Evidence()
    return Evidence(
        ocsp_responses=tuple(bytes(ref.get_object().data) for ref in dss.ocsps),
        crls=tuple(bytes(ref.get_object().data) for ref in dss.crls),
    )


def _load(pdf: bytes) -> PdfFileReader:
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except Exception as exc:
        raise MalformedInput("PDF", f"cannot read: {exc}") from None


def verify_pdf(
    pdf: bytes,
    *,
    anchors: TrustAnchors,
    now: dt.datetime,
    revocation: RevocationCheck | None,
    tsa_anchors: TrustAnchors | None = None,
    expect: list[CertKind] | None = None,
) -> PdfVerdict:
    """Verify every signature in ``pdf``. ``revocation.evidence`` is extended with the DSS.

    Synchronous: pyHanko runs its own event loop, so async callers (a FastAPI handler) call
    this in a worker thread (``starlette.concurrency.run_in_threadpool``)."""
    now = utc(now)
    reader = _load(pdf)
    dss = _dss_evidence(reader)
    ts_roots = [_asn1(c) for c in (tsa_anchors or anchors).certificates]
    verdicts = []
    for sig in reader.embedded_signatures:
        problems: list[Problem] = []
        # Integrity, coverage and the time-stamp by pyHanko; the signer's certificate below.
        # soft-fail and no fetching here: revocation is this kit's job (at the proven time).
        signer_vc = ValidationContext(
            trust_roots=[_asn1(c) for c in anchors.certificates],
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        ts_vc = ValidationContext(
            trust_roots=ts_roots, allow_fetching=False, revocation_mode="soft-fail"
        )
        try:
            status: PdfSignatureStatus = validate_pdf_signature(sig, signer_vc, ts_vc)
        except (SignatureValidationError, ValueError) as exc:
            verdicts.append(
                PdfSignatureVerdict(
                    sig.field_name,
                    False,
                    "NONE",
                    None,
                    None,
                    None,
                    None,
                    (Problem(Failure.BAD_SIGNATURE, f"unreadable signature: {exc}"),),
                )
            )
            continue
        if not status.intact or not status.valid:
            problems.append(
                Problem(Failure.BAD_SIGNATURE, "the document or the signature was altered")
            )
        mod = status.modification_level
        coverage = status.coverage.name if status.coverage is not None else "NONE"
        if coverage != "ENTIRE_FILE" and (mod is None or mod.name not in ("NONE", "LTA_UPDATES")):
            problems.append(
                Problem(Failure.BAD_SIGNATURE, "the document was changed after it was signed")
            )
        proven: dt.datetime | None = None
        ts = status.timestamp_validity
        if ts is not None:
            if ts.intact and ts.valid and ts.trusted:
                proven = utc(ts.timestamp)
            else:
                problems.append(
                    Problem(Failure.BAD_SIGNATURE, "the signature time-stamp does not verify")
                )
        signer = x509.load_der_x509_certificate(status.signing_cert.dump())
        check = revocation
        if check is not None:
            check = RevocationCheck(check.fetcher, check.evidence + dss, check.policy)
        cert_verdict = verify_certificate(
            signer,
            anchors=anchors,
            now=now,
            at=proven,
            usage=Usage.SIGNING,
            expect=expect,
            revocation=check,
        )
        claimed = status.signer_reported_dt
        verdicts.append(
            PdfSignatureVerdict(
                field_name=sig.field_name,
                intact=bool(status.intact and status.valid),
                coverage=coverage,
                signer=signer,
                timestamp=proven,
                claimed_time=utc(claimed) if claimed is not None else None,
                certificate=cert_verdict,
                problems=tuple(problems),
            )
        )
    return PdfVerdict(tuple(verdicts))


def pyhanko_validate(
    pdf: bytes,
    *,
    anchors: TrustAnchors,
    allow_fetching: bool = True,
    ocsp_responses: tuple[bytes, ...] = (),
    crls: tuple[bytes, ...] = (),
) -> list[PdfSignatureStatus]:
    """pyHanko's own validator, hard-failing on revocation, trusting only ``anchors``; with
    ``allow_fetching`` it fetches OCSP/CRLs from the certificate's URLs itself."""
    reader = _load(pdf)
    out = []
    for sig in reader.embedded_signatures:
        vc = ValidationContext(
            trust_roots=[_asn1(c) for c in anchors.certificates],
            allow_fetching=allow_fetching,
            ocsps=list(ocsp_responses),
            crls=list(crls),
            revocation_mode="hard-fail",
        )
        out.append(validate_pdf_signature(sig, vc))
    return out
