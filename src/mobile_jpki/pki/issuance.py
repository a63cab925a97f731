"""Issuing JPKI certificates: roots, end-entity certificates, delegated OCSP responders.

Pure: keys, serials' randomness and every time are arguments. The CA key is any
``cryptography`` private key — a software key or :class:`mobile_jpki.keys.pkcs11.
Pkcs11RSAPrivateKey`; ``cryptography`` (≥ 44) calls a Python subclass's ``sign()`` from its
builders, so both go through the same path.

Speed: an :class:`Issuer` is built once per CA and precomputes everything that does not depend on
the request (issuer name, AKI, issuerAltName, AIA, policies, keyUsage, per-shard CDP and
freshestCRL), then hands ``x509.CertificateBuilder`` a finished extension list; per certificate
only the subject, SKI and (signing) the facts SAN are built. RSA signing dominates.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from mobile_jpki.pki import names, oids, profiles
from mobile_jpki.pki.identity import (
    DEFAULT_UNKNOWN_SEX_CODE,
    BasicFourFacts,
    Locality,
    ProfileError,
)
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls, utc

#: RFC 5280 §4.1.2.2: serials are positive and at most 20 octets.
MAX_SERIAL_OCTETS = 20
#: Random octets per serial: 16, with the top bit cleared (127 bits of randomness, ≥ 64 as
#: CA/B Forum BR §7.1 asks; DER INTEGER ≤ 16 octets, never negative).
SERIAL_RANDOM_OCTETS = 16
DEFAULT_TSA_LIFETIME = dt.timedelta(days=5 * 365)
DEFAULT_OCSP_RESPONDER_LIFETIME = dt.timedelta(days=7)


class IssuanceError(ProfileError):
    """A request the profile does not allow (wrong facts for the kind, bad dates, bad serial)."""


def new_serial(randbytes: Callable[[int], bytes] = secrets.token_bytes) -> int:
    """A fresh serial number from ``randbytes`` (hand in a seeded source in tests)."""
    while True:
        raw = bytearray(randbytes(SERIAL_RANDOM_OCTETS))
        if len(raw) != SERIAL_RANDOM_OCTETS:
            raise ValueError("randbytes returned the wrong number of bytes")
        raw[0] &= 0x7F
        value = int.from_bytes(raw, "big")
        if value:
            return value


def shard_of(serial: int, shard_count: int) -> int:
    """The CRL shard a certificate belongs to, fixed at issuance (its CDP names the shard).
    Serials are random, so the remainder spreads them evenly."""
    if shard_count < 1:
        raise ValueError("shard_count must be at least 1")
    return serial % shard_count


def _check_serial(serial: int) -> None:
    if serial <= 0 or (serial.bit_length() + 8) // 8 > MAX_SERIAL_OCTETS:
        raise IssuanceError(f"serial {serial} is not a positive INTEGER of ≤ 20 octets")


def _frozen(ext: x509.Extension[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    """The extension with its value pre-encoded: the builder then copies the DER instead of
    walking the Python object on every certificate (measured: most of the non-signing cost)."""
    raw = x509.UnrecognizedExtension(ext.oid, ext.value.public_bytes())
    return x509.Extension(ext.oid, ext.critical, raw)


def _sign(
    builder: x509.CertificateBuilder, key: CertificateIssuerPrivateKeyTypes
) -> x509.Certificate:
    # sha256WithRSAEncryption, PKCS#1 v1.5 (JPKI-FACTS.md "Certificates").
    if isinstance(key, rsa.RSAPrivateKey):
        return builder.sign(key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
    raise IssuanceError(f"JPKI CA keys are RSA, not {type(key).__name__}")


def build_root(
    *,
    hierarchy: Hierarchy,
    generation: int,
    key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    urls: PublicUrls,
    naming: names.Naming = names.DEFAULT_NAMING,
    serial: int | None = None,
) -> x509.Certificate:
    """A self-signed root for one generation of one hierarchy.

    The serial defaults to one derived from the key's SKI: unique per key, so two roots with the
    same DN (generations, or a dev re-run) never share issuer+serial — which NSS and others
    reject — while staying a pure function of its arguments.
    """
    public_key = profiles.check_subject_key(key.public_key())
    if generation < 1:
        raise IssuanceError("generation numbers start at 1")
    start, end = utc(not_before), utc(not_after)
    if end <= start:
        raise IssuanceError("not_after must be after not_before")
    ca_id = CaIdentity.make_id(hierarchy, generation)
    if serial is None:
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key).digest
        serial = int.from_bytes(ski[:16], "big") >> 1 or 1
    _check_serial(serial)
    name = names.root_name(hierarchy, naming)
    builder = x509.CertificateBuilder(
        issuer_name=name,
        subject_name=name,
        public_key=public_key,
        serial_number=serial,
        not_valid_before=start,
        not_valid_after=end,
        extensions=profiles.root_extensions(
            hierarchy=hierarchy, ca_id=ca_id, public_key=public_key, urls=urls, naming=naming
        ),
    )
    return _sign(builder, key)


@dataclass(frozen=True)
class IssuanceRequest:
    """What the CA needs to issue one end-entity certificate. Validated on construction:
    signing kinds need ``facts`` and ``locality``; authentication kinds must carry neither
    (the user-authentication certificate holds no personal data, JPKI-FACTS.md)."""

    kind: CertKind
    subject_public_key: rsa.RSAPublicKey
    serial: int
    subject_id: str
    not_before: dt.datetime
    not_after: dt.datetime
    shard: int
    facts: BasicFourFacts | None = None
    locality: Locality | None = None

    def __post_init__(self) -> None:
        profiles.check_subject_key(self.subject_public_key)
        _check_serial(self.serial)
        if self.shard < 0:
            raise IssuanceError("shard must not be negative")
        if utc(self.not_after) <= utc(self.not_before):
            raise IssuanceError("not_after must be after not_before")
        if self.kind.hierarchy is Hierarchy.SIGN:
            if self.facts is None or self.locality is None:
                raise IssuanceError(f"{self.kind} certificates carry the basic four facts")
        elif self.facts is not None or self.locality is not None:
            raise IssuanceError(f"{self.kind} certificates carry no personal data")


class Issuer:
    """One CA generation ready to issue: everything request-independent computed once.

    The CA service keeps one per :class:`CaIdentity`; :func:`issue` caches them too.
    """

    def __init__(
        self,
        ca: CaIdentity,
        urls: PublicUrls,
        *,
        policy_oids: oids.PolicyOids = oids.DEFAULT_POLICIES,
        naming: names.Naming = names.DEFAULT_NAMING,
        unknown_sex_code: str = DEFAULT_UNKNOWN_SEX_CODE,
    ) -> None:
        cert = ca.certificate
        ca_public = cert.public_key()
        key = ca.key
        if not isinstance(key, rsa.RSAPrivateKey) or not isinstance(ca_public, rsa.RSAPublicKey):
            raise IssuanceError("JPKI CA keys are RSA")
        if key.public_key().public_numbers() != ca_public.public_numbers():
            raise IssuanceError(f"{ca.ca_id}: the key does not belong to the CA certificate")
        self.ca = ca
        self.urls = urls
        self.unknown_sex_code = unknown_sex_code
        self._key = key
        self._name = cert.subject
        self._ca_not_after = cert.not_valid_after_utc
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            ski = x509.SubjectKeyIdentifier.from_public_key(ca_public).digest
        self.key_id: bytes = ski
        self._aki = _frozen(profiles.authority_key_identifier(ski))
        self._ian = _frozen(profiles.issuer_alt_name(ca.hierarchy, naming))
        self._aia = _frozen(profiles.aia(ca.hierarchy, urls))
        self._naming = naming
        self._per_kind = {
            kind: (
                _frozen(profiles.ee_key_usage(kind)),
                _frozen(profiles.policies(kind, policy_oids)),
            )
            for kind in CertKind
            if kind.hierarchy is ca.hierarchy
        }
        self._shards: dict[
            int, tuple[x509.Extension[x509.ExtensionType], x509.Extension[x509.ExtensionType]]
        ] = {}

    def _shard_extensions(
        self, shard: int
    ) -> tuple[x509.Extension[x509.ExtensionType], x509.Extension[x509.ExtensionType]]:
        cached = self._shards.get(shard)
        if cached is None:
            cached = (
                _frozen(profiles.crl_distribution_points(self.urls, self.ca.ca_id, shard)),
                _frozen(profiles.freshest_crl(self.urls, self.ca.ca_id, shard)),
            )
            self._shards[shard] = cached
        return cached

    def issue(self, request: IssuanceRequest) -> x509.Certificate:
        """Sign one end-entity certificate (extension order: keyUsage, certificatePolicies,
        subjectAltName (signing), issuerAltName, CDP, freshestCRL, AIA, AKI, SKI)."""
        per_kind = self._per_kind.get(request.kind)
        if per_kind is None:
            raise IssuanceError(f"{self.ca.ca_id} does not issue {request.kind} certificates")
        not_before, not_after = utc(request.not_before), utc(request.not_after)
        if not_after > self._ca_not_after:
            # RFC 5280 does not forbid it, but a certificate outliving its root cannot be
            # validated for the rest of its life; JPKI renews the root generation instead.
            raise IssuanceError(f"not_after {not_after} is after the CA's ({self._ca_not_after})")
        key_usage, cert_policies = per_kind
        cdp, freshest = self._shard_extensions(request.shard)
        extensions = [key_usage, cert_policies]
        if request.facts is not None:
            other_names = request.facts.to_other_names(unknown_sex_code=self.unknown_sex_code)
            extensions.append(profiles.signing_facts_san(other_names))
        extensions += [
            self._ian,
            cdp,
            freshest,
            self._aia,
            self._aki,
            profiles.subject_key_identifier(request.subject_public_key),
        ]
        builder = x509.CertificateBuilder(
            issuer_name=self._name,
            subject_name=names.end_entity_name(request.subject_id, request.locality),
            public_key=request.subject_public_key,
            serial_number=request.serial,
            not_valid_before=not_before,
            not_valid_after=not_after,
            extensions=extensions,
        )
        return _sign(builder, self._key)

    def ocsp_responder(
        self,
        public_key: rsa.RSAPublicKey,
        serial: int,
        now: dt.datetime,
        lifetime: dt.timedelta = DEFAULT_OCSP_RESPONDER_LIFETIME,
    ) -> x509.Certificate:
        """A delegated OCSP responder certificate valid from ``now`` for ``lifetime``: short,
        because id-pkix-ocsp-nocheck means nobody checks whether it was revoked
        (RFC 6960 §4.2.2.2.1)."""
        profiles.check_subject_key(public_key)
        _check_serial(serial)
        if lifetime <= dt.timedelta(0):
            raise IssuanceError("lifetime must be positive")
        start = utc(now)
        end = min(start + lifetime, self._ca_not_after)
        if end <= start:
            raise IssuanceError(f"{self.ca.ca_id} has expired")
        builder = x509.CertificateBuilder(
            issuer_name=self._name,
            subject_name=names.ocsp_responder_name(self.ca.hierarchy, self.ca.ca_id, self._naming),
            public_key=public_key,
            serial_number=serial,
            not_valid_before=start,
            not_valid_after=end,
            extensions=profiles.ocsp_responder_extensions(
                hierarchy=self.ca.hierarchy,
                public_key=public_key,
                issuer_ski=self.key_id,
                naming=self._naming,
            ),
        )
        return _sign(builder, self._key)

    def tsa(
        self,
        public_key: rsa.RSAPublicKey,
        serial: int,
        now: dt.datetime,
        lifetime: dt.timedelta = DEFAULT_TSA_LIFETIME,
    ) -> x509.Certificate:
        """The time-stamping authority's certificate, valid from ``now`` for ``lifetime``
        (never past the root)."""
        profiles.check_subject_key(public_key)
        _check_serial(serial)
        start = utc(now)
        end = min(start + lifetime, self._ca_not_after)
        if end <= start:
            raise IssuanceError(f"{self.ca.ca_id} has expired")
        builder = x509.CertificateBuilder(
            issuer_name=self._name,
            subject_name=names.tsa_name(self.ca.hierarchy, self._naming),
            public_key=public_key,
            serial_number=serial,
            not_valid_before=start,
            not_valid_after=end,
            extensions=profiles.tsa_extensions(
                hierarchy=self.ca.hierarchy,
                public_key=public_key,
                issuer_ski=self.key_id,
                urls=self.urls,
                naming=self._naming,
            ),
        )
        return _sign(builder, self._key)


@functools.lru_cache(maxsize=64)
def issuer_for(ca: CaIdentity, urls: PublicUrls) -> Issuer:
    """The cached default-configured :class:`Issuer` of ``ca`` (keyed on the CA's certificate
    and key object)."""
    return Issuer(ca, urls)


def issue(ca: CaIdentity, request: IssuanceRequest, urls: PublicUrls) -> x509.Certificate:
    """Issue an end-entity certificate with the default profile configuration."""
    return issuer_for(ca, urls).issue(request)


def build_ocsp_responder(
    ca: CaIdentity,
    public_key: rsa.RSAPublicKey,
    serial: int,
    now: dt.datetime,
    lifetime: dt.timedelta = DEFAULT_OCSP_RESPONDER_LIFETIME,
    urls: PublicUrls | None = None,
) -> x509.Certificate:
    """A delegated OCSP responder certificate issued by ``ca``'s root (see
    :meth:`Issuer.ocsp_responder`)."""
    return issuer_for(ca, urls or PublicUrls()).ocsp_responder(public_key, serial, now, lifetime)


def build_tsa_certificate(
    ca: CaIdentity,
    public_key: rsa.RSAPublicKey,
    serial: int,
    now: dt.datetime,
    lifetime: dt.timedelta = DEFAULT_TSA_LIFETIME,
    urls: PublicUrls | None = None,
) -> x509.Certificate:
    """The TSA certificate issued by ``ca``'s root (see :meth:`Issuer.tsa`)."""
    return issuer_for(ca, urls or PublicUrls()).tsa(public_key, serial, now, lifetime)
