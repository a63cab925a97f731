"""What the routers need, held on ``app.state.services``."""

from __future__ import annotations

from dataclasses import dataclass

from mobile_jpki.clock import Clock
from mobile_jpki.service.ca import CertificateAuthority


@dataclass(frozen=True)
class Services:
    ca: CertificateAuthority
    clock: Clock
