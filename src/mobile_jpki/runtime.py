"""A data directory turned into a running system: the CA, the portal service, the HTTP app.

Both ``mobile-jpki serve`` and ``mobile-jpki demo`` start here, so the demo leaves exactly the
state that ``serve`` serves. Keys the portal needs besides the CA's live beside them:

- ``portal/instruction-key.pem`` and the trusted manufacturer roots — see
  :mod:`mobile_jpki.api.portal.bootstrap`, which ``serve`` uses too.
- ``portal/card-issuer-key.pem`` — the municipal offices' key for card instructions (unblock).
- ``devices/manufacturer/root.pem`` — the emulated secure-element manufacturer whose
  attestation root the portal trusts (:func:`reader.emulated.load_or_create_manufacturer`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from mobile_jpki.api import authapp
from mobile_jpki.api.app import create_app
from mobile_jpki.api.portal import PortalContext, install
from mobile_jpki.api.portal.bootstrap import build_portal
from mobile_jpki.clock import Clock
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.ca.bootstrap import check_host, open_ca
from mobile_jpki.service.ca.timestamping import load_or_create_tsa
from mobile_jpki.service.keystore import load_or_create_ec_key
from mobile_jpki.service.portal.service import PortalConfig, PortalService
from mobile_jpki.settings import Settings
from mobile_jpki.store.clock_offset import clock_for
from mobile_jpki.web.sandbox import SimulatorLimits


@dataclass
class System:
    """One running mobile-jpki: CA, portal, and the HTTP app that serves both."""

    settings: Settings
    clock: Clock
    ca: CertificateAuthority
    portal: PortalService
    context: PortalContext
    app: FastAPI
    card_issuer_key: ec.EllipticCurvePrivateKey

    def client(self) -> httpx.Client:
        """An HTTP client into the app in this process (the demo's and the tests' path)."""
        from mobile_jpki.phone.transport import in_process_client

        return in_process_client(self.app, base_url=self.settings.base_url)

    def close(self) -> None:
        self.ca.db.dispose()


def open_system(
    settings: Settings,
    clock: Clock,
    *,
    migrate: bool = True,
    config: PortalConfig | None = None,
    now: dt.datetime | None = None,
    simulator: SimulatorLimits | None = None,
) -> System:
    """Wire the data directory of ``settings`` into a :class:`System` (the CA must exist:
    ``mobile-jpki ca init`` or :func:`~mobile_jpki.service.ca.bootstrap.init_data_dir`).
    ``simulator``: mount the phone simulator sandbox with these limits (off by default).

    On a sandbox data directory ``clock`` is the base of its movable clock (the offset that
    `mobile-jpki clock advance` stores); elsewhere it is used as given."""
    ca = open_ca(settings, migrate=migrate)
    clock = clock_for(settings, ca.db, base=clock)
    try:
        # The same keys as every other host of this database, or one line and no start.
        check_host(settings, ca, now or clock.now())
    except BaseException:
        ca.db.dispose()
        raise
    card_issuer_key = load_or_create_ec_key(
        settings.data_dir / "portal" / "card-issuer-key.pem", settings.ca_passphrase()
    )
    context = build_portal(ca, settings, clock=clock, config=config)
    tsa = load_or_create_tsa(settings, ca, now or clock.now())
    app = create_app(ca, clock=clock, tsa=tsa, simulator=simulator)
    install(app, context)
    authapp.install_from_settings(app, ca, settings, clock)
    return System(settings, clock, ca, context.service, context, app, card_issuer_key)
