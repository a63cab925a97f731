"""One error hierarchy for the relying-party kit. Verdicts report *why* a signature or a
certificate is not acceptable as data (see :mod:`mobile_jpki.verify.certificate`); these
exceptions are for input the kit cannot even read, and for transport failures."""

from __future__ import annotations


class VerifyError(Exception):
    """Base of every relying-party kit error."""


class MalformedInput(VerifyError):
    """The object handed in is not what it claims (not DER, not a SignedData, ...)."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


class FetchError(VerifyError):
    """An OCSP responder or CRL distribution point could not be reached or answered badly."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"{url}: {detail}")
        self.url = url
        self.detail = detail


class RevocationCheckError(VerifyError):
    """One revocation source (OCSP or CRL) gave no usable answer; ``source`` names it."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.detail = detail
