"""Wiring the portal into ``serve``: its keys and trust from the data directory, its routers on
the CA's app, and its worker loop in the app's lifespan.

Data directory (beside the CA's, see settings.py)::

    DIR/portal/instruction-key.pem        EC P-256, encrypted PKCS#8 (the CA passphrase), 0600:
                                          signs deletion/reset instructions (EF 0022 of phones)
    DIR/portal/manufacturers/*.pem        trusted secure-element manufacturer roots
    DIR/devices/manufacturer/root.pem     the emulated manufacturer of this data dir, if any
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI

from mobile_jpki.clock import Clock, SystemClock
from mobile_jpki.reader.emulated import load_or_create_manufacturer
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.keystore import load_or_create_ec_key
from mobile_jpki.service.portal.cms import CmsDocumentVerifier
from mobile_jpki.service.portal.service import PortalConfig, PortalService
from mobile_jpki.service.shared_keys import trusted_roots
from mobile_jpki.settings import Settings

from . import PortalContext, install, worker


def instruction_key_path(settings: Settings) -> Path:
    return settings.data_dir / "portal" / "instruction-key.pem"


def load_or_create_instruction_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """The portal's instruction key, made on first use (encrypted with the CA passphrase).
    Several ``serve`` workers may race here: the write is atomic and every worker re-reads
    the file, so all sign with the key that won."""
    return load_or_create_ec_key(instruction_key_path(settings), settings.ca_passphrase())


def manufacturer_roots(settings: Settings) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    folder = settings.data_dir / "portal" / "manufacturers"
    paths = sorted(folder.glob("*.pem")) if folder.is_dir() else []
    emulated = settings.data_dir / "devices" / "manufacturer" / "root.pem"
    if emulated.is_file():
        paths.append(emulated)
    for path in paths:
        roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    return roots


def _trusted_roots(ca: CertificateAuthority, settings: Settings) -> list[x509.Certificate]:
    """The roots recorded in the database, which every host trusts alike (service/shared_keys),
    and this data directory's own files (recorded there at start-up by the host check)."""
    roots: dict[bytes, x509.Certificate] = {}
    for root in [*trusted_roots(ca.db), *manufacturer_roots(settings)]:
        roots.setdefault(root.public_bytes(Encoding.DER), root)
    return list(roots.values())


def build_portal(
    ca: CertificateAuthority,
    settings: Settings,
    *,
    clock: Clock | None = None,
    config: PortalConfig | None = None,
) -> PortalContext:
    clock = clock or SystemClock()
    # This data dir's emulated secure-element maker exists before the roots are read, so the
    # phones of `mobile-jpki phone new`, the demo and the simulator enrol on a fresh data dir.
    load_or_create_manufacturer(settings.data_dir, now=clock.now())

    service = PortalService(
        ca.db,
        authority=ca,
        verifier=CmsDocumentVerifier(),
        instruction_key=load_or_create_instruction_key(settings),
        manufacturer_roots=_trusted_roots(ca, settings),
        config=config,
    )
    return PortalContext(service=service, clock=clock)


def install_with_worker(app: FastAPI, ctx: PortalContext, *, interval: float = 0.5) -> None:
    """Routers + the worker loop (jobs and push) running for the app's lifetime."""
    install(app, ctx)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a), worker(ctx, interval=interval):
            yield

    app.router.lifespan_context = lifespan


def install_from_settings(
    app: FastAPI, ca: CertificateAuthority, settings: Settings, *, clock: Clock | None = None
) -> None:
    """What ``serve`` calls: the portal of this data directory on the same app and port, on
    the app's clock (a sandbox's movable one, store.clock_offset.clock_for)."""
    from mobile_jpki.api import authapp

    portal = build_portal(ca, settings, clock=clock)
    # The デジタル認証アプリ twin on the same app (docs/auth-app.md), its housekeeping on the
    # portal's worker.
    twin = authapp.service_for(ca, settings)
    portal.housekeepers.append(twin.housekeeping)
    install_with_worker(app, portal)
    authapp.install(app, twin, clock or SystemClock())
