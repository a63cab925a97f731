"""Distinguished names of the JPKI hierarchies, shaped like the real J-LIS roots.

The real roots (``/work/shared/jlis-roots``; compared in docs/profiles.md) are named
``C=JP, O=JPKI, OU=JPKI for digital signature | JPKI for user authentication, OU=Japan Agency for
Local Authority Information Systems`` with C a PrintableString and the rest UTF8String, and carry
a Japanese directoryName alternative ``C=JP, O=公的個人認証サービス, OU=公的個人認証サービス署名用 |
利用者証明用, OU=地方公共団体情報システム機構``. Ours keep that shape attribute for attribute but
never claim to be J-LIS: ``O=JPKI-TEST`` and an operator OU naming this test hierarchy.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from mobile_jpki.pki.identity import IdentityError, Locality
from mobile_jpki.pki.model import Hierarchy

_KIND_OU = {
    Hierarchy.SIGN: "JPKI for digital signature",
    Hierarchy.AUTH: "JPKI for user authentication",
}
_KIND_OU_JA = {
    Hierarchy.SIGN: "公的個人認証サービス署名用",
    Hierarchy.AUTH: "公的個人認証サービス利用者証明用",
}


@dataclass(frozen=True)
class Naming:
    """The configurable parts of the hierarchy's names (see module docstring)."""

    organization: str = "JPKI-TEST"
    operator: str = "mobile-jpki test hierarchy"
    organization_ja: str = "公的個人認証サービス"
    operator_ja: str = "mobile-jpki テスト環境"

    def __post_init__(self) -> None:
        if self.organization == "JPKI" or "Japan Agency for Local Authority" in self.operator:
            # The real root DNs; a test hierarchy that reused them would be indistinguishable
            # by name from J-LIS (generations share one DN and are told apart only by key id).
            raise ValueError("mobile-jpki never presents its CA as J-LIS")


DEFAULT_NAMING = Naming()


def root_name(hierarchy: Hierarchy, naming: Naming = DEFAULT_NAMING) -> x509.Name:
    """The root's subject (= issuer of every end-entity certificate of the hierarchy)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, naming.organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _KIND_OU[hierarchy]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, naming.operator),
        ]
    )


def alt_directory_name(hierarchy: Hierarchy, naming: Naming = DEFAULT_NAMING) -> x509.Name:
    """The Japanese directoryName of the root: its subjectAltName, and every end-entity
    certificate's issuerAltName (RFC 5280 §4.2.1.7). Starts ``C=JP, O=公的個人認証サービス``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, naming.organization_ja),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _KIND_OU_JA[hierarchy]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, naming.operator_ja),
        ]
    )


# ub-common-name is 64 (RFC 5280 Appendix A.1). The identifier is opaque: it must not encode
# personal data (the authentication certificate carries none, JPKI-FACTS.md).
_SUBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def end_entity_name(subject_id: str, locality: Locality | None = None) -> x509.Name:
    """Auth: ``C=JP, CN=<id>``. Signing: ``C=JP, L=<prefecture>, L=<city>, CN=<id>``."""
    if not _SUBJECT_ID.fullmatch(subject_id):
        raise IdentityError("subject_id", f"{subject_id!r}: 1-64 of A-Z a-z 0-9 _ . -")
    cn = x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, subject_id)])
    return x509.Name([*_subject_prefix(locality), cn])


@functools.lru_cache(maxsize=4096)
def _subject_prefix(locality: Locality | None) -> tuple[x509.RelativeDistinguishedName, ...]:
    # The C and L RDNs repeat across holders of one municipality: built once (issuance speed).
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if locality is not None:
        attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality.prefecture_romaji))
        attributes.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality.city_romaji))
    return tuple(x509.RelativeDistinguishedName([a]) for a in attributes)


def ocsp_responder_name(
    hierarchy: Hierarchy, ca_id: str, naming: Naming = DEFAULT_NAMING
) -> x509.Name:
    """The delegated responder: the root's DN plus ``CN=OCSP Responder <ca_id>``."""
    return x509.Name(
        [
            *root_name(hierarchy, naming),
            x509.NameAttribute(NameOID.COMMON_NAME, f"OCSP Responder {ca_id}"),
        ]
    )


def tsa_name(hierarchy: Hierarchy, naming: Naming = DEFAULT_NAMING) -> x509.Name:
    """The project's time-stamping authority: the root's DN plus ``CN=Time-Stamping Authority``."""
    return x509.Name(
        [
            *root_name(hierarchy, naming),
            x509.NameAttribute(NameOID.COMMON_NAME, "Time-Stamping Authority"),
        ]
    )
