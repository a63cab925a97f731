"""A small JPKI built with the real profiles (pki.issuance, pki.ocsp, pki.crl) for the
relying-party kit's tests: roots, end-entity certificates, OCSP answers and shard CRLs, all in
memory, all at times the test chooses."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mobile_jpki.pki import crl as pcrl
from mobile_jpki.pki import ocsp as pocsp
from mobile_jpki.pki.identity import BasicFourFacts, Locality, Sex
from mobile_jpki.pki.issuance import IssuanceRequest, Issuer, build_root
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls
from mobile_jpki.pki.revocation import Reason, RevokedEntry
from mobile_jpki.pki.tsa import TimeStampAuthority

T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
BASE = "http://jpki.test"
URLS = PublicUrls(BASE)


@functools.lru_cache(maxsize=64)
def rsa_key(n: int) -> rsa.RSAPrivateKey:
    """The n-th test key (cached for the whole session: RSA-2048 generation is slow)."""
    del n
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


FACTS = BasicFourFacts.create(
    family_name="番号",
    given_name="花子",
    sex=Sex.FEMALE,
    date_of_birth=dt.date(1990, 5, 1),
    address="東京都千代田区永田町一丁目７番１号",
)
LOCALITY = Locality("Tokyo", "Chiyoda-ku")


@dataclass
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    ca: CaIdentity


class TestPki:
    """Two hierarchies, generation 1 (and an optional generation 2 sharing the DN)."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.cas: dict[tuple[Hierarchy, int], CaIdentity] = {}
        self.issuers: dict[str, Issuer] = {}
        self._next_key = 10
        self._tsa: TimeStampAuthority | None = None
        for i, h in enumerate(Hierarchy):
            self.ca(h, 1, key_index=i)

    def ca(self, hierarchy: Hierarchy, generation: int, key_index: int | None = None) -> CaIdentity:
        if (hierarchy, generation) in self.cas:
            return self.cas[(hierarchy, generation)]
        key = rsa_key(key_index if key_index is not None else 2 + generation * 2 + len(self.cas))
        cert = build_root(
            hierarchy=hierarchy,
            generation=generation,
            key=key,
            not_before=T0 - dt.timedelta(days=365),
            not_after=T0 + dt.timedelta(days=3650),
            urls=URLS,
        )
        ca = CaIdentity(CaIdentity.make_id(hierarchy, generation), hierarchy, generation, cert, key)
        self.cas[(hierarchy, generation)] = ca
        self.issuers[ca.ca_id] = Issuer(ca, URLS)
        return ca

    def root(self, hierarchy: Hierarchy, generation: int = 1) -> x509.Certificate:
        return self.ca(hierarchy, generation).certificate

    def issue(
        self,
        kind: CertKind,
        serial: int,
        *,
        shard: int = 0,
        generation: int = 1,
        not_before: dt.datetime = T0 - dt.timedelta(days=30),
        not_after: dt.datetime = T0 + dt.timedelta(days=365),
        key_index: int | None = None,
    ) -> Issued:
        if key_index is None:
            key_index = self._next_key
            self._next_key += 1
        key = rsa_key(key_index)
        signing = kind.hierarchy is Hierarchy.SIGN
        ca = self.ca(kind.hierarchy, generation)
        cert = self.issuers[ca.ca_id].issue(
            IssuanceRequest(
                kind=kind,
                subject_public_key=key.public_key(),
                serial=serial,
                subject_id=f"SUBJ{serial:08d}",
                not_before=not_before,
                not_after=not_after,
                shard=shard,
                facts=FACTS if signing else None,
                locality=LOCALITY if signing else None,
            )
        )
        return Issued(cert, key, ca)

    def responder(
        self, ca: CaIdentity, now: dt.datetime = T0 - dt.timedelta(days=1)
    ) -> pocsp.Responder:
        key = rsa_key(50 + ca.generation * 2 + (ca.hierarchy is Hierarchy.AUTH))
        cert = self.issuers[ca.ca_id].ocsp_responder(
            key.public_key(), 900 + ca.generation, now, dt.timedelta(days=30)
        )
        return pocsp.Responder(cert, key)

    def ocsp(
        self,
        issued: Issued,
        *,
        status: pocsp.CertStatus = pocsp.CertStatus.GOOD,
        revoked_at: dt.datetime | None = None,
        reason: Reason | None = None,
        now: dt.datetime = T0,
        next_update: dt.timedelta | None = dt.timedelta(hours=12),
        nonce: bytes | None = None,
        responder: pocsp.Responder | None = None,
    ) -> bytes:
        issuer = issued.ca.certificate
        answer = pocsp.SingleAnswer(
            cert_id=pocsp.cert_id(issued.cert, issuer, pocsp.HashAlgorithm.SHA1),
            status=status,
            this_update=now,
            next_update=now + next_update if next_update is not None else None,
            revoked_at=revoked_at,
            reason=reason,
        )
        return pocsp.build_response(
            responder=responder or self.responder(issued.ca, now - dt.timedelta(days=1)),
            answers=[answer],
            produced_at=now,
            nonce=nonce,
        )

    def tsa(self) -> TimeStampAuthority:
        """A TSA certificate from the signing root (EKU id-kp-timeStamping, critical)."""
        if self._tsa is None:
            ca = self.ca(Hierarchy.SIGN, 1)
            key = rsa_key(60)
            cert = (
                x509.CertificateBuilder(
                    issuer_name=ca.certificate.subject,
                    subject_name=x509.Name(
                        [
                            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
                            x509.NameAttribute(NameOID.COMMON_NAME, "mobile-jpki TSA"),
                        ]
                    ),
                    public_key=key.public_key(),
                    serial_number=4242,
                    not_valid_before=T0 - dt.timedelta(days=365),
                    not_valid_after=T0 + dt.timedelta(days=3650),
                )
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
                )
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(
                        ca.key.public_key()  # type: ignore[arg-type]
                    ),
                    critical=False,
                )
                .sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
            )
            self._tsa = TimeStampAuthority(cert, key)
        return self._tsa

    def ocsp_handler(self, issued: Issued, **kw: object) -> Callable[[bytes], bytes]:
        """A fake responder that echoes the request's nonce (RFC 8954)."""

        def answer(request: bytes) -> bytes:
            nonce = pocsp.parse_request(request).nonce
            return self.ocsp(issued, nonce=nonce, **kw)  # type: ignore[arg-type]

        return answer

    def crl(
        self,
        ca: CaIdentity,
        entries: list[RevokedEntry],
        *,
        number: int = 1,
        shard: int = 0,
        base: int | None = None,
        now: dt.datetime = T0,
        next_update: dt.timedelta = dt.timedelta(days=1),
    ) -> bytes:
        scope = pcrl.CrlScope.full(shard) if base is None else pcrl.CrlScope.delta(shard, base)
        return pcrl.build_crl(
            issuer=ca,
            urls=URLS,
            entries=entries,
            crl_number=number,
            this_update=now,
            next_update=now + next_update,
            scope=scope,
        )


class SignOnlyKey(rsa.RSAPrivateKey):
    """A key that can only ``sign`` — like a card or phone key (ApduRSAPrivateKey): proves the
    signing code never needs the private numbers."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def sign(self, data, padding, algorithm):  # type: ignore[no-untyped-def,override]
        return self._key.sign(data, padding, algorithm)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    @property
    def key_size(self) -> int:
        return self._key.key_size

    def decrypt(self, ciphertext, padding):  # type: ignore[no-untyped-def,override]
        raise TypeError("sign only")

    def private_numbers(self):  # type: ignore[no-untyped-def,override]
        raise TypeError("the key never leaves the chip")

    def private_bytes(self, encoding, format, encryption_algorithm):  # type: ignore[no-untyped-def,override]
        raise TypeError("the key never leaves the chip")

    def __copy__(self) -> SignOnlyKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SignOnlyKey:
        return self
