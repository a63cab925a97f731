"""Revocation reasons and revoked-entry values (RFC 5280 §5.3.1 CRLReason)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum


class Reason(IntEnum):
    """The CRLReason codes JPKI uses (JPKI-FACTS.md "Certificates"), numbered as RFC 5280.

    ``REMOVE_FROM_CRL`` appears only in delta CRLs, when a hold is released (RFC 5280 §5.2.4).
    """

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    AFFILIATION_CHANGED = 3  # 異動: change of name or address
    SUPERSEDED = 4  # e.g. the old phone's certificates at a model change
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6  # 一時利用停止 (hotline suspension)
    REMOVE_FROM_CRL = 8


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked (or held) certificate as it appears in a CRL or an OCSP answer."""

    serial: int
    revoked_at: dt.datetime
    reason: Reason | None = None
    invalidity_date: dt.datetime | None = None
