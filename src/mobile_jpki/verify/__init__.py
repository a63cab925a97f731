"""The relying-party kit: verify what JPKI cards and phones sign, authenticate their holders and
check revocation (OCSP, CRL) over HTTP only, through an injected fetcher — never the CA's
database.

``__all__`` is the kit's API; import the names from here or from their modules. They are
loaded on first use (``mobile_jpki._lazy``): verifying a CMS signature does not import pyhanko.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobile_jpki._lazy import lazy_exports

if TYPE_CHECKING:
    from .certificate import (
        CertificateVerdict,
        Failure,
        Problem,
        RevocationCheck,
        TrustAnchors,
        Usage,
        jlis_anchors,
        verify_certificate,
    )
    from .cms import (
        OID_DATA,
        CmsVerdict,
        TimestampVerdict,
        check_signer_info,
        find_signer,
        load_signed_data,
        verify_cms,
        verify_timestamp_token,
    )
    from .crl_check import verify_crls
    from .errors import FetchError, MalformedInput, RevocationCheckError, VerifyError
    from .fetch import CrlFetcher, FakeFetcher, Fetcher, HttpFetcher, OcspFetcher
    from .login import LoginFailure, LoginResult, MemoryNonceStore, NonceStore, verify_login
    from .ocsp_check import verify_ocsp_response
    from .pdf import PdfSignatureVerdict, PdfVerdict, verify_pdf
    from .revocation import check_revocation
    from .revocation_model import (
        DEFAULT_POLICY,
        Evidence,
        FailMode,
        RevocationPolicy,
        RevocationResult,
        RevocationStatus,
        Source,
    )

__all__ = [
    "DEFAULT_POLICY",
    "OID_DATA",
    "CertificateVerdict",
    "CmsVerdict",
    "CrlFetcher",
    "Evidence",
    "FailMode",
    "Failure",
    "FakeFetcher",
    "FetchError",
    "Fetcher",
    "HttpFetcher",
    "LoginFailure",
    "LoginResult",
    "MalformedInput",
    "MemoryNonceStore",
    "NonceStore",
    "OcspFetcher",
    "PdfSignatureVerdict",
    "PdfVerdict",
    "Problem",
    "RevocationCheck",
    "RevocationCheckError",
    "RevocationPolicy",
    "RevocationResult",
    "RevocationStatus",
    "Source",
    "TimestampVerdict",
    "TrustAnchors",
    "Usage",
    "VerifyError",
    "check_revocation",
    "check_signer_info",
    "find_signer",
    "jlis_anchors",
    "load_signed_data",
    "verify_certificate",
    "verify_cms",
    "verify_crls",
    "verify_login",
    "verify_ocsp_response",
    "verify_pdf",
    "verify_timestamp_token",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "certificate": (
            "CertificateVerdict",
            "Failure",
            "Problem",
            "RevocationCheck",
            "TrustAnchors",
            "Usage",
            "jlis_anchors",
            "verify_certificate",
        ),
        "cms": (
            "OID_DATA",
            "CmsVerdict",
            "TimestampVerdict",
            "check_signer_info",
            "find_signer",
            "load_signed_data",
            "verify_cms",
            "verify_timestamp_token",
        ),
        "errors": ("FetchError", "MalformedInput", "RevocationCheckError", "VerifyError"),
        "fetch": ("CrlFetcher", "FakeFetcher", "Fetcher", "HttpFetcher", "OcspFetcher"),
        "login": ("LoginFailure", "LoginResult", "MemoryNonceStore", "NonceStore", "verify_login"),
        "pdf": ("PdfSignatureVerdict", "PdfVerdict", "verify_pdf"),
        "crl_check": ("verify_crls",),
        "ocsp_check": ("verify_ocsp_response",),
        "revocation": ("check_revocation",),
        "revocation_model": (
            "DEFAULT_POLICY",
            "Evidence",
            "FailMode",
            "RevocationPolicy",
            "RevocationResult",
            "RevocationStatus",
            "Source",
        ),
    },
)
