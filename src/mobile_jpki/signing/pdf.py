"""PAdES signatures (ETSI EN 319 142-1) on PDFs with pyHanko, made by any ``cryptography`` key.

pyHanko's ``SimpleSigner`` wants the private key itself (an asn1crypto PrivateKeyInfo); a My
Number Card or phone key never leaves the chip, so :class:`KeySigner` implements pyHanko's
``Signer.async_sign_raw`` by calling ``key.sign(data, PKCS1v15(), SHA-256)`` — one COMPUTE
DIGITAL SIGNATURE on a card/phone-backed :class:`~mobile_jpki.reader.key.ApduRSAPrivateKey`.

Levels:
- ``B-B``: signature with signed attributes and the signer certificate;
- ``B-T``: plus a signature time-stamp from an RFC 3161 TSA (ours is at ``{base}/tsa``);
- ``B-LT``: plus the validation data (certificates, OCSP responses, CRLs) in the DSS, so a
  relying party can validate later without the CA online — and validate a signature made before
  the certificate was revoked (model change) as of the time-stamp.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

from asn1crypto import algos, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from mobile_jpki.pki.model import utc


class Level(StrEnum):
    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"


class PdfSigningError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _asn1(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class KeySigner(signers.Signer):
    """A pyHanko signer over any RSA private-key object that can ``sign`` (PKCS#1 v1.5, the only
    scheme the JPKI applet offers)."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        self._key = key
        super().__init__(
            signing_cert=_asn1(certificate),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_asn1(c) for c in chain]
            ),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            embed_roots=True,
        )

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            # Size estimation: do not spend a card signature (or a PIN try) on it.
            return bytes(self._key.key_size // 8)
        if digest_algorithm not in _HASHES:
            raise PdfSigningError(f"digest {digest_algorithm} not supported")
        return self._key.sign(data, padding.PKCS1v15(), _HASHES[digest_algorithm]())


class ExchangeTimeStamper(timestamps.TimeStamper):
    """pyHanko time-stamper over a function TimeStampReq DER → TimeStampResp DER (our TSA in
    process, see :func:`mobile_jpki.pki.tsa.respond`)."""

    def __init__(self, exchange: Callable[[bytes], bytes]) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self._exchange = exchange

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(self._exchange(req.dump()))


class _TimedPdfSigner(signers.PdfSigner):
    """PdfSigner whose signingTime (and pre-sign validation time) is ``now``, not the wall
    clock: time is an argument (DESIGN.md)."""

    def __init__(
        self,
        signature_meta: signers.PdfSignatureMetadata,
        signer: signers.Signer,
        *,
        timestamper: timestamps.TimeStamper | None,
        now: dt.datetime,
    ) -> None:
        super().__init__(signature_meta, signer, timestamper=timestamper)
        self._now = now

    def init_signing_session(
        self, pdf_out: BasePdfFileWriter, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._now
        return session


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    import io

    try:
        return IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except PdfError as exc:
        # pyHanko's reader errors (no header, no xref, no %%EOF: a truncated or foreign file).
        raise PdfSigningError(f"not a readable PDF: {exc}") from None


def check_pdf(pdf: bytes) -> None:
    """Raise :class:`PdfSigningError` unless ``pdf`` opens for an incremental update: what a
    signing command checks before it asks for a password (or spends a card signature)."""
    _writer(pdf)


def sign_pdf_bytes(
    pdf: bytes,
    key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    *,
    level: Level = Level.B_T,
    now: dt.datetime,
    tsa_url: str | None = None,
    tsa_exchange: Callable[[bytes], bytes] | None = None,
    trust_roots: Sequence[x509.Certificate] = (),
    ocsp_responses: Sequence[bytes] = (),
    crls: Sequence[bytes] = (),
    field_name: str = "Signature1",
    reason: str | None = None,
) -> bytes:
    """Sign ``pdf`` (bytes) and return the signed PDF (an incremental update).

    B-T and B-LT need a TSA: ``tsa_url`` (HTTP, e.g. ``{base}/tsa``) or ``tsa_exchange``.
    B-LT needs the validation data: given as ``ocsp_responses``/``crls`` (DER), or, when none is
    given, fetched by pyHanko from the certificate's AIA/CDP URLs; ``trust_roots`` defaults to
    the last certificate of ``chain``.
    """
    import io

    now = utc(now)
    timestamper: timestamps.TimeStamper | None = None
    if level in (Level.B_T, Level.B_LT):
        if tsa_exchange is not None:
            timestamper = ExchangeTimeStamper(tsa_exchange)
        elif tsa_url is not None:
            timestamper = timestamps.HTTPTimeStamper(tsa_url)
        else:
            raise PdfSigningError(f"PAdES {level} needs a time-stamp authority (tsa_url)")
    vc = None
    if level is Level.B_LT:
        roots = list(trust_roots) or list(chain[-1:])
        if not roots:
            raise PdfSigningError("PAdES B-LT needs the root certificate (chain or trust_roots)")
        given = bool(ocsp_responses or crls)
        vc = ValidationContext(
            trust_roots=[_asn1(r) for r in roots],
            allow_fetching=not given,
            ocsps=list(ocsp_responses),
            crls=list(crls),
            revocation_mode="hard-fail",
            moment=now,
        )
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=level is Level.B_LT,
        validation_context=vc,
        use_pades_lta=False,
        reason=reason,
    )
    signer = _TimedPdfSigner(
        meta, signer=KeySigner(key, certificate, chain), timestamper=timestamper, now=now
    )
    out = io.BytesIO()
    try:
        signer.sign_pdf(_writer(pdf), output=out)
    except (OSError, ValueError, PdfError) as exc:
        raise PdfSigningError(f"signing failed: {exc}") from exc
    return out.getvalue()


def sign_pdf(
    in_path: str | Path,
    out_path: str | Path,
    key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    *,
    level: Level = Level.B_T,
    tsa_url: str | None = None,
    now: dt.datetime,
    **kwargs: object,
) -> None:
    """File-to-file :func:`sign_pdf_bytes` (for ``mobile-jpki phone sign-pdf``)."""
    signed = sign_pdf_bytes(
        Path(in_path).read_bytes(),
        key,
        certificate,
        chain,
        level=level,
        tsa_url=tsa_url,
        now=now,
        **kwargs,  # type: ignore[arg-type]
    )
    Path(out_path).write_bytes(signed)
