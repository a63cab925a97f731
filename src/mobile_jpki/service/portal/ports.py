"""What the portal needs from the outside (DESIGN.md "one small interface per I/O edge"): the
CMS verifier and the CA.

The CA is reached only through :class:`Authority`, the methods the portal calls and nothing
else; the concrete CA satisfies it structurally. Its use cases take the portal's ``Session`` so
that issuing to the new phone and revoking the old phone's certificates, with their
pre-signed OCSP answers, commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from sqlalchemy.orm import Session

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.pki.revocation import Reason

# The portal's only imports of the CA's code: the order value it builds, and the deferred
# signatures it hands back. Both are re-exported here; the rest of the portal imports them
# from this module.
from mobile_jpki.service.ca import IssueOrder
from mobile_jpki.service.signing_pool import SignedWrites

__all__ = [
    "Authority",
    "CaRoot",
    "DocumentVerifier",
    "IssueOrder",
    "IssuedCertificate",
    "SignedDocument",
    "SignedWrites",
]


@dataclass(frozen=True)
class SignedDocument:
    """What a verified CMS SignedData carried: the content and the signer's certificate."""

    content: bytes
    signer: x509.Certificate


class DocumentVerifier(Protocol):
    """Verifies an encapsulated CMS SignedData (RFC 5652) signature; the signer certificate is
    taken from the SignedData. Chain and status are the portal's business, not the verifier's.
    Raises :class:`~mobile_jpki.service.portal.errors.SignatureInvalid`."""

    def verify(self, cms_der: bytes) -> SignedDocument: ...


class CaRoot(Protocol):
    """One CA generation, as the portal reads it: signers are matched to these roots."""

    @property
    def ca_id(self) -> str: ...

    @property
    def hierarchy(self) -> Hierarchy: ...

    @property
    def certificate(self) -> x509.Certificate: ...


class IssuedCertificate(Protocol):
    @property
    def serial(self) -> int: ...

    @property
    def certificate(self) -> x509.Certificate: ...


class Authority(Protocol):
    """Exactly the CA operations the portal calls. Every state change takes the portal's
    ``session``: it is written in the portal's transaction. Results the portal ignores are
    ``object``."""

    def cas(self) -> Sequence[CaRoot]: ...

    def ensure_responder(self, ca_id: str, now: dt.datetime) -> object:
        """Roll the CA's OCSP responder over if due (a write of its own: call it before the
        portal's transaction, see ``Context.ready_ca``)."""
        ...

    def issue(
        self, order: IssueOrder, now: dt.datetime, *, actor: str, session: Session
    ) -> IssuedCertificate: ...

    def issue_later(
        self,
        orders: Sequence[IssueOrder],
        now: dt.datetime,
        *,
        session: Session,
        later: SignedWrites,
        actor: str,
    ) -> list[int]:
        """Issue in the caller's transaction, the signatures written by ``later``; returns
        the serials."""
        ...

    def signing_later(self) -> AbstractContextManager[SignedWrites]: ...

    def revoke(
        self, serial: int, reason: Reason, now: dt.datetime, *, actor: str, session: Session
    ) -> object: ...

    def revoke_many(
        self,
        serials: Sequence[int],
        reason: Reason,
        now: dt.datetime,
        *,
        actor: str,
        session: Session,
        later: SignedWrites | None = None,
    ) -> object: ...

    def hold(self, serial: int, now: dt.datetime, *, actor: str, session: Session) -> object: ...

    def release_hold(
        self, serial: int, now: dt.datetime, *, actor: str, session: Session
    ) -> object: ...
