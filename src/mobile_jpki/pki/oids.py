"""Every object identifier mobile-jpki writes or reads, named, each with its source.

JPKI's arc is ``1.2.392.200149`` (J-LIS, registered under the Japanese ISO member body
``1.2.392``). The policy OIDs below come from the JPKI certificate profiles as summarised in
JPKI-FACTS.md "Certificates"; the ones J-LIS does not publish (user-authentication on the card is
*uncertain*, the phone profiles are not public) are our defaults and are overridable through
:class:`PolicyOids`, so a deployment that learns the real values changes configuration, not code.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, OCSPExtensionOID

from mobile_jpki.pki.model import CertKind

# --- certificate policies (RFC 5280 §4.2.1.4) ------------------------------------------------
#: 署名用電子証明書 on the My Number Card (JPKI-FACTS.md "Certificates").
POLICY_CARD_SIGN = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
#: 利用者証明用電子証明書 on the card. *Uncertain* (JPKI-FACTS.md): default, configurable.
POLICY_CARD_AUTH = x509.ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
#: Phone (スマホ用) signing certificate. Profile not public; one note suggests ``…1.1.40``.
POLICY_PHONE_SIGN = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.40")
#: Phone user-authentication certificate. Not public; our choice, parallel to the card's ``.3``.
POLICY_PHONE_AUTH = x509.ObjectIdentifier("1.2.392.200149.8.5.1.3.40")
#: The J-LIS test (検証用) hierarchy (JPKI-FACTS.md). Added beside the kind's policy in every
#: certificate of our hierarchy so no relying party can mistake it for production.
POLICY_TEST_HIERARCHY = x509.ObjectIdentifier("1.2.392.200149.8.5.1.0.20")

# --- basic four facts, subjectAltName otherName type-ids (JPKI-FACTS.md) ------------------------
#: 氏名 (kanji; U+3000 between family and given name).
FACT_NAME = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")
#: 氏名代替文字の使用位置: one ``0``/``1`` per character of the name.
FACT_NAME_SUBSTITUTE = x509.ObjectIdentifier("1.2.392.200149.8.5.5.2")
#: 性別: 1 male, 2 female, unknown 3 or 9 (*uncertain*).
FACT_SEX = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")
#: 生年月日: ``EYYYYMMDD`` (era code, then the Gregorian date).
FACT_DATE_OF_BIRTH = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")
#: 住所 (≤ 200 characters, no postal code).
FACT_ADDRESS = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")
#: 住所代替文字の使用位置: one ``0``/``1`` per character of the address.
FACT_ADDRESS_SUBSTITUTE = x509.ObjectIdentifier("1.2.392.200149.8.5.5.6")

FACT_OIDS: tuple[x509.ObjectIdentifier, ...] = (
    FACT_NAME,
    FACT_NAME_SUBSTITUTE,
    FACT_SEX,
    FACT_DATE_OF_BIRTH,
    FACT_ADDRESS,
    FACT_ADDRESS_SUBSTITUTE,
)

# --- delegated OCSP (RFC 6960 §4.2.2.2) ------------------------------------------------------
#: id-kp-OCSPSigning (RFC 6960 §4.2.2.2): the responder certificate's only EKU.
EKU_OCSP_SIGNING = ExtendedKeyUsageOID.OCSP_SIGNING
#: id-pkix-ocsp-nocheck, 1.3.6.1.5.5.7.48.1.5 (RFC 6960 §4.2.2.2.1): clients need not check the
#: responder certificate's own revocation status, which is why it must be short-lived.
OCSP_NO_CHECK = x509.ObjectIdentifier("1.3.6.1.5.5.7.48.1.5")
#: id-pkix-ocsp-nonce (RFC 6960 §4.4.1), re-exported for the OCSP module's convenience.
OCSP_NONCE = OCSPExtensionOID.NONCE


@dataclass(frozen=True)
class PolicyOids:
    """The policy OID of each certificate kind (RFC 5280 §4.2.1.4).

    Defaults are the values above; override any of them when the real profile is known. All four
    must differ: :func:`mobile_jpki.pki.inspect.cert_kind` tells card from phone by this OID.
    """

    card_sign: x509.ObjectIdentifier = POLICY_CARD_SIGN
    card_auth: x509.ObjectIdentifier = POLICY_CARD_AUTH
    phone_sign: x509.ObjectIdentifier = POLICY_PHONE_SIGN
    phone_auth: x509.ObjectIdentifier = POLICY_PHONE_AUTH
    #: Added to every end-entity certificate when set; ``None`` omits it.
    test_hierarchy: x509.ObjectIdentifier | None = POLICY_TEST_HIERARCHY

    def __post_init__(self) -> None:
        kinds = {self.card_sign, self.card_auth, self.phone_sign, self.phone_auth}
        if len(kinds) != 4:
            raise ValueError("each certificate kind needs its own policy OID")
        if self.test_hierarchy is not None and self.test_hierarchy in kinds:
            raise ValueError("the test-hierarchy policy OID must differ from the kinds' OIDs")

    def for_kind(self, kind: CertKind) -> x509.ObjectIdentifier:
        return {
            CertKind.CARD_SIGN: self.card_sign,
            CertKind.CARD_AUTH: self.card_auth,
            CertKind.PHONE_SIGN: self.phone_sign,
            CertKind.PHONE_AUTH: self.phone_auth,
        }[kind]

    def kind_of(self, oid: x509.ObjectIdentifier) -> CertKind | None:
        for kind in CertKind:
            if self.for_kind(kind) == oid:
                return kind
        return None


DEFAULT_POLICIES = PolicyOids()
