"""Verify CMS SignedData (RFC 5652) made by a JPKI card or phone, detached or encapsulated, and
RFC 3161 time-stamp tokens (on their own, or as a CAdES signature-time-stamp).

The signature checks are one core (:func:`load_signed_data`, :func:`find_signer`,
:func:`check_signer_info`) under :func:`verify_cms`, :func:`verify_timestamp_token` and the
portal's document verifier (``service/portal/cms.py``), which judges the signer's certificate
against its own database instead of :func:`verify_certificate`.

What is checked (RFC 5652 §5.4, §5.6; RFC 5035; RFC 3161 §2.4.2):
signer certificate found by issuerAndSerialNumber or subjectKeyIdentifier among the certificates
carried; contentType attribute equal to eContentType; messageDigest equal to the hash of the
content; ESS signing-certificate(-v2) naming that very certificate; the signature over the DER
SET OF signed attributes; then the certificate's verdict (chain, validity, usage, revocation),
judged at the time-stamp's genTime when a valid signature-time-stamp proves one, else now.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

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
from mobile_jpki.verify.signatures import verify_signature

_HASH_BY_NAME: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"
OID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"


@dataclass(frozen=True)
class TimestampVerdict:
    gen_time: dt.datetime | None
    tsa_certificate: x509.Certificate | None
    policy: str | None
    problems: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.problems and self.gen_time is not None


@dataclass(frozen=True)
class CmsVerdict:
    """The result of :func:`verify_cms`: ``valid`` only if the signature is intact *and* the
    certificate verdict passes. ``content`` is the signed data (encapsulated or the one given)."""

    content: bytes
    signer: x509.Certificate | None
    signing_time_claimed: dt.datetime | None
    timestamp: TimestampVerdict | None
    certificate: CertificateVerdict | None
    problems: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        return not self.problems and self.certificate is not None and self.certificate.valid

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        cert = self.certificate.problems if self.certificate is not None else ()
        return self.problems + cert

    @property
    def proven_time(self) -> dt.datetime | None:
        return self.timestamp.gen_time if self.timestamp and self.timestamp.valid else None

    def summary(self) -> str:
        if self.valid:
            return "valid"
        return "; ".join(str(p) for p in self.all_problems)


# --- the signature core: shared by verify_cms, time-stamp tokens and the portal ----------------
# Lazy: only the fields checked are decoded (the portal verifies every application with it, and
# materialising ``.native`` of a whole SignedData costs far more than the RSA signature).


def load_signed_data(der: bytes, *, strict: bool = False) -> cms.SignedData:
    """The SignedData of a ContentInfo (RFC 5652 §3, §5.1), not decoded further. ``strict``
    refuses trailing bytes. Raises :class:`MalformedInput` when it is not one."""
    try:
        info = cms.ContentInfo.load(der, strict=strict)
        if info["content_type"].dotted != OID_SIGNED_DATA:
            raise MalformedInput("CMS", f"{info['content_type'].native}, not signed-data")
        return info["content"]
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput("CMS", f"not a CMS SignedData: {exc}") from None


def find_signer(signed: cms.SignedData, sid: cms.SignerIdentifier) -> x509.Certificate | None:
    """The certificate carried in ``signed`` that ``sid`` names (RFC 5652 §5.3): by
    issuerAndSerialNumber, compared as encoded, or by subjectKeyIdentifier."""
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        # The certificate's bytes as received, taken before reading a field can make
        # asn1crypto re-encode them.
        cert_der = cert.dump()
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            tbs = cert["tbs_certificate"]
            if (
                ias["serial_number"].native == tbs["serial_number"].native
                and ias["issuer"].dump() == tbs["issuer"].dump()
            ):
                return x509.load_der_x509_certificate(cert_der)
        else:
            loaded = x509.load_der_x509_certificate(cert_der)
            try:
                ski = loaded.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            except x509.ExtensionNotFound:
                continue
            if ski.digest == sid.chosen.contents:
                return loaded
    return None


def _attr(attrs: cms.CMSAttributes, oid: str) -> Any:
    """The one value of the attribute ``oid``, or None when absent. RFC 5652 §11: contentType,
    messageDigest and signingTime appear at most once, with one value; so must the others here."""
    found = [a for a in attrs if a["type"].dotted == oid]
    if len(found) > 1 or (found and len(found[0]["values"]) != 1):
        raise MalformedInput("CMS", "a signed attribute appears twice or has several values")
    return found[0]["values"][0] if found else None


def check_signer_info(
    signer_info: cms.SignerInfo,
    signer: x509.Certificate,
    content: bytes,
    content_type: str,
) -> list[Problem]:
    """RFC 5652 §5.4/§5.6 and RFC 5035 checks of one SignerInfo over ``content`` of type
    ``content_type`` (dotted OID): digest algorithm, contentType and messageDigest attributes,
    ESS signing-certificate(-v2) naming ``signer``, and the signature over the signed
    attributes by ``signer``'s key (RSA PKCS#1 v1.5 or ECDSA). Empty when intact; raises
    :class:`MalformedInput` for a signed attribute given twice."""
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASH_BY_NAME or digest_name == "sha1":
        return [Problem(Failure.BAD_SIGNATURE, f"digest algorithm {digest_name} not accepted")]
    attrs = signer_info["signed_attrs"]
    if not attrs:
        return [Problem(Failure.BAD_SIGNATURE, "no signed attributes (not a CAdES signature)")]
    # RFC 5652 §5.4: the signature covers the attributes exactly as received, re-tagged from
    # [0] IMPLICIT to the universal SET OF. Taken BEFORE any attribute is read: parsing an
    # AlgorithmIdentifier (the ESS hash algorithm below) marks asn1crypto's tree mutated, and
    # dump() would then re-encode it (sorting the SET OF) — slower, and not necessarily the
    # bytes that were signed.
    signed_bytes = b"\x31" + attrs.dump()[1:]
    problems: list[Problem] = []
    ctype = _attr(attrs, OID_CONTENT_TYPE)
    if ctype is None or ctype.dotted != content_type:
        problems.append(Problem(Failure.BAD_SIGNATURE, "contentType attribute does not match"))
    digest = _attr(attrs, OID_MESSAGE_DIGEST)
    if digest is None or digest.contents != hashlib.new(digest_name, content).digest():
        problems.append(
            Problem(Failure.BAD_SIGNATURE, "the content does not match the signed digest")
        )
    der = signer.public_bytes(serialization.Encoding.DER)
    ess2 = _attr(attrs, OID_SIGNING_CERT_V2)
    ess1 = _attr(attrs, OID_SIGNING_CERT) if ess2 is None else None
    if ess2 is not None:
        first = ess2["certs"][0]
        alg = first["hash_algorithm"]["algorithm"].native
        if (
            alg not in _HASH_BY_NAME
            or first["cert_hash"].contents != hashlib.new(alg, der).digest()
        ):
            problems.append(
                Problem(Failure.BAD_SIGNATURE, "signing-certificate-v2 names another certificate")
            )
    elif ess1 is not None:
        # RFC 2634 §5.4 ESSCertID is SHA-1 by definition.
        old_hash = hashlib.sha1(der).digest()  # noqa: S324
        if ess1["certs"][0]["cert_hash"].contents != old_hash:
            problems.append(
                Problem(Failure.BAD_SIGNATURE, "signing-certificate names another certificate")
            )
    try:
        public_key = signer.public_key()
    except (UnsupportedAlgorithm, ValueError):
        problems.append(Problem(Failure.BAD_SIGNATURE, "the signer's public key is not usable"))
        return problems
    sig_ok = verify_signature(
        public_key,
        signer_info["signature"].contents,
        signed_bytes,
        _HASH_BY_NAME[digest_name](),
    )
    if not sig_ok:
        problems.append(Problem(Failure.BAD_SIGNATURE, "the signature does not verify"))
    return problems


# --- the relying party's verdicts ----------------------------------------------------------------


def _load_signed_data(der: bytes) -> cms.SignedData:
    """:func:`load_signed_data`, decoded in full now: garbage fails here, as MalformedInput."""
    signed = load_signed_data(der)
    try:
        signed.native  # noqa: B018 - parse everything now, fail here on garbage
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput("CMS", f"not a CMS SignedData: {exc}") from None
    return signed


def _revocation_info(signed: cms.SignedData) -> Evidence:
    """CRLs and OCSP responses carried in SignedData ``crls`` (RFC 5652 §10.2.1, RFC 5940)."""
    ocsps: list[bytes] = []
    crls: list[bytes] = []
    for choice in signed["crls"] or []:
        if choice.name == "crl":
            crls.append(bytes(choice.chosen.dump()))
        elif choice.chosen["other_rev_info_format"].native == "ocsp_response":
            ocsps.append(bytes(choice.chosen["other_rev_info"].dump()))
    return Evidence(tuple(ocsps), tuple(crls))


def verify_timestamp_token(
    token_der: bytes,
    imprint_data: bytes,
    *,
    anchors: TrustAnchors,
    now: dt.datetime,
) -> TimestampVerdict:
    """Check an RFC 3161 TimeStampToken over ``imprint_data``: the TSA's CMS signature, its
    certificate (chained to ``anchors``, extKeyUsage id-kp-timeStamping only, valid at genTime),
    and the message imprint."""
    problems: list[Problem] = []
    try:
        signed = _load_signed_data(token_der)
    except MalformedInput as exc:
        return TimestampVerdict(None, None, None, (Problem(Failure.BAD_SIGNATURE, str(exc)),))
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != OID_TST_INFO:
        return TimestampVerdict(None, None, None, (Problem(Failure.BAD_SIGNATURE, "no TSTInfo"),))
    tst_der = bytes(encap["content"].contents)
    info = tsp.TSTInfo.load(tst_der)
    gen_time: dt.datetime = info["gen_time"].native
    policy = info["policy"].dotted
    imprint = info["message_imprint"]
    alg = imprint["hash_algorithm"]["algorithm"].native
    if alg not in _HASH_BY_NAME or hashlib.new(alg, imprint_data).digest() != bytes(
        imprint["hashed_message"].native
    ):
        problems.append(Problem(Failure.BAD_SIGNATURE, "the time-stamp is over other data"))
    signer_info = signed["signer_infos"][0]
    tsa = find_signer(signed, signer_info["sid"])
    if tsa is None:
        problems.append(Problem(Failure.UNTRUSTED_ISSUER, "the TSA certificate is not included"))
        return TimestampVerdict(gen_time, None, policy, tuple(problems))
    try:
        problems.extend(check_signer_info(signer_info, tsa, tst_der, OID_TST_INFO))
    except MalformedInput as exc:
        problems.append(Problem(Failure.BAD_SIGNATURE, str(exc)))
    try:
        eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
            raise x509.ExtensionNotFound("", eku.oid)
    except x509.ExtensionNotFound:
        problems.append(
            Problem(Failure.WRONG_USAGE, "the TSA certificate is not for time-stamping (RFC 3161)")
        )
    if anchors.issuer_of(tsa) is None:
        problems.append(Problem(Failure.UNTRUSTED_ISSUER, "the TSA is not trusted"))
    if not tsa.not_valid_before_utc <= gen_time <= tsa.not_valid_after_utc:
        problems.append(Problem(Failure.EXPIRED, "the TSA certificate was not valid at genTime"))
    if gen_time > utc(now) + dt.timedelta(minutes=5):
        problems.append(Problem(Failure.NOT_YET_VALID, "the time-stamp is in the future"))
    return TimestampVerdict(gen_time, tsa, policy, tuple(problems))


def verify_cms(
    data: bytes | None,
    signature: bytes,
    *,
    anchors: TrustAnchors,
    now: dt.datetime,
    revocation: RevocationCheck | None = None,
    usage: Usage | None = Usage.SIGNING,
    expect: list[CertKind] | None = None,
    tsa_anchors: TrustAnchors | None = None,
) -> CmsVerdict:
    """Verify a CMS signature. ``data`` is the detached content, or ``None`` for an
    encapsulating signature. ``tsa_anchors`` (default ``anchors``) are the roots trusted for
    time-stamps. Raises :class:`MalformedInput` only when ``signature`` is not CMS at all."""
    signed = _load_signed_data(signature)
    encap = signed["encap_content_info"]
    embedded = encap["content"]
    if embedded.native is not None:
        content = bytes(embedded.contents)
        if data is not None and data != content:
            raise MalformedInput("CMS", "detached data given for an encapsulating signature")
    elif data is None:
        raise MalformedInput("CMS", "a detached signature needs the signed data")
    else:
        content = data
    signer_infos = signed["signer_infos"]
    if len(signer_infos) != 1:
        raise MalformedInput("CMS", f"{len(signer_infos)} signers; JPKI signatures have one")
    signer_info = signer_infos[0]
    signer = find_signer(signed, signer_info["sid"])
    if signer is None:
        return CmsVerdict(
            content,
            None,
            None,
            None,
            None,
            (Problem(Failure.UNTRUSTED_ISSUER, "the signer's certificate is not included"),),
        )
    problems = check_signer_info(signer_info, signer, content, encap["content_type"].dotted)
    claimed = _attr(signer_info["signed_attrs"], OID_SIGNING_TIME)
    claimed_time = claimed.native if claimed is not None else None

    ts_verdict: TimestampVerdict | None = None
    for attr in signer_info["unsigned_attrs"] or []:
        if attr["type"].native == "signature_time_stamp_token":
            ts_verdict = verify_timestamp_token(
                attr["values"][0].dump(),
                signer_info["signature"].native,
                anchors=tsa_anchors or anchors,
                now=now,
            )
            break
    at = ts_verdict.gen_time if ts_verdict is not None and ts_verdict.valid else None
    if ts_verdict is not None and not ts_verdict.valid:
        problems.extend(ts_verdict.problems)
    if revocation is not None:
        carried = _revocation_info(signed)
        revocation = RevocationCheck(
            revocation.fetcher, revocation.evidence + carried, revocation.policy
        )
    cert_verdict = verify_certificate(
        signer,
        anchors=anchors,
        now=now,
        at=at,
        usage=usage,
        expect=expect,
        revocation=revocation,
    )
    return CmsVerdict(content, signer, claimed_time, ts_verdict, cert_verdict, tuple(problems))
