"""Making signatures with any ``cryptography`` private key (software, PKCS#11, or a card or
phone key that signs through APDUs): CMS SignedData, PAdES PDF signatures, login assertions.

``__all__`` is the API; the names are loaded on first use (``mobile_jpki._lazy``), so making a
CMS signature does not import pyhanko.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobile_jpki._lazy import lazy_exports

if TYPE_CHECKING:
    from .cms import sign_cms
    from .login import Challenge, LoginAssertion, new_challenge, sign_login
    from .pdf import Level, PdfSigningError, check_pdf, sign_pdf, sign_pdf_bytes
    from .timestamp import HttpTimestamper, LocalTimestamper, Timestamper, TimestampError

__all__ = [
    "Challenge",
    "HttpTimestamper",
    "Level",
    "LocalTimestamper",
    "LoginAssertion",
    "PdfSigningError",
    "TimestampError",
    "Timestamper",
    "check_pdf",
    "new_challenge",
    "sign_cms",
    "sign_login",
    "sign_pdf",
    "sign_pdf_bytes",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "cms": ("sign_cms",),
        "login": ("Challenge", "LoginAssertion", "new_challenge", "sign_login"),
        "pdf": ("Level", "PdfSigningError", "check_pdf", "sign_pdf", "sign_pdf_bytes"),
        "timestamp": ("HttpTimestamper", "LocalTimestamper", "TimestampError", "Timestamper"),
    },
)
