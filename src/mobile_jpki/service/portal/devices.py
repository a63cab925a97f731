"""Devices (a phone's secure element): enrolment by factory attestation, the device
credential, the one-time nonces its signed requests carry, and its push setting."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobile_jpki.protocol.attestation import AttestationError, element_serial

from . import errors as E
from . import repo as Q
from .context import Context, device, sha256
from .limits import client_key

log = logging.getLogger("mobile_jpki.portal")


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    credential: str  # "<device_id>.<secret>": shown once, stored hashed
    created: bool = True  # False: the element's existing device, with a new credential


def enrol_device(
    ctx: Context, *, attestation_der: bytes, push_channel: str, now: dt.datetime
) -> Enrolment:
    """Register a secure element by its factory attestation certificate, which must chain
    to a configured manufacturer root. The credential authenticates later calls.

    One device per element (unique ``element_serial``). Enrolling an element again finds
    its device: while that device has never applied, the caller gets a new credential for
    it (the old one stops working); once it has, :class:`~.errors.DeviceEnrolled`. The
    certificate is public, so presenting it proves nothing; an application does (the
    element's attestation signatures over a server nonce), and from then on the device's
    credential is not handed out again (docs/portal.md "Abuse limits")."""
    try:
        x509.load_der_x509_certificate(attestation_der)
    except ValueError:
        raise E.RequestInvalid("the attestation certificate is not DER X.509") from None
    try:
        # Checked as every application checks it (and remembered: the first application
        # then finds it chained already).
        cert = ctx.attestations.check(attestation_der, ctx.manufacturer_roots, now=now)
        serial = element_serial(cert).hex()
    except AttestationError as exc:
        raise E.AttestationInvalid(str(exc)) from None
    if push_channel not in ("inprocess", "sse", "none"):
        raise E.RequestInvalid("push_channel must be inprocess, sse or none")
    secret = ctx.rand(32).hex()
    try:
        return _enrol(ctx, serial, attestation_der, push_channel, sha256(secret), secret, now)
    except IntegrityError:
        # A concurrent enrolment of the same element inserted first (the unique index):
        # this one finds that device now.
        return _enrol(ctx, serial, attestation_der, push_channel, sha256(secret), secret, now)


def _enrol(
    ctx: Context,
    serial: str,
    attestation_der: bytes,
    push_channel: str,
    credential_hash: str,
    secret: str,
    now: dt.datetime,
) -> Enrolment:
    with ctx.db.transaction() as s:
        found = Q.device_of_element(s, serial)
        if found is None:
            device_id = ctx.new_id()
            Q.add_device(
                s,
                device_id=device_id,
                element_serial=serial,
                attestation_der=attestation_der,
                credential_hash=credential_hash,
                push_channel=push_channel,
                push_enabled=push_channel != "none",
                now=now,
            )
            action = "portal.device.enrol"
        else:
            device_id = found.id
            if Q.has_applied(s, device_id):
                raise E.DeviceEnrolled(
                    "this element is enrolled already and has applied; "
                    "its device credential is not issued again",
                    device_id=device_id,
                )
            # Nothing hangs on a device that never applied (no person, no certificate, no
            # instruction): whoever presents the certificate is as entitled to it as the
            # first enrolment was, and a squatter who copied the certificate cannot keep
            # the genuine phone out.
            found.credential_hash = credential_hash
            found.attestation_der = attestation_der  # a renewed certificate of the element
            found.push_channel = push_channel
            found.push_enabled = push_channel != "none"
            Q.delete_unused_nonces(s, device_id)  # issued under the replaced credential
            action = "portal.device.re-enrol"
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action=action,
            obj=f"device:{device_id}",
            payload={"channel": push_channel},
        )
    return Enrolment(device_id, f"{device_id}.{secret}", created=found is None)


def authenticate_device(
    ctx: Context, credential: str, *, client: str | None, now: dt.datetime
) -> str:
    """Check ``<device_id>.<secret>``; ``credential_failures`` wrong secrets from one client
    network lock that client (only) out of the device for ``credential_window``
    (:mod:`.limits` says why per client)."""
    device_id, _, secret = credential.partition(".")
    if not device_id or not secret or len(device_id) > 64:
        raise E.Unauthenticated("malformed device credential")
    with ctx.db.transaction(write=False) as s:
        found = Q.device(s, device_id)
        if found is None:
            raise E.Unauthenticated("unknown device")
        ok = hmac.compare_digest(found.credential_hash, sha256(secret))
    key = (client_key(client), device_id)
    counters = ctx.credential_failures
    locked_until = counters.locked_until(key, now)
    if locked_until is not None:
        # Retry-After (RFC 9110 §10.2.3) like every other 429 of the portal.
        raise E.RateLimited(
            "too many wrong credentials from this client; try again later",
            retry_after=int((locked_until - now).total_seconds()) + 1,
        )
    if ok:
        counters.succeeded(key)
        return device_id
    config = ctx.config
    if counters.failed(
        key, now=now, limit=config.credential_failures, window=config.credential_window
    ):
        # Logged, not audited: any number of client networks can each earn a lock, and a
        # stranger must not be able to grow the audit table at will.
        log.warning("client %s locked out of device %s after wrong secrets", key[0], device_id)
    raise E.Unauthenticated("wrong device credential")


def new_nonce(ctx: Context, device_id: str, *, purpose: str, now: dt.datetime) -> str:
    """A single-use nonce for one signed request. At most ``nonces_per_device`` are
    outstanding (unused, unexpired) per device: beyond that the oldest is dropped, so a
    device can neither grow the table nor be refused (it only loses its own stale ones)."""
    value = ctx.rand(32).hex()
    with ctx.db.transaction() as s:
        # The device's row lock (PostgreSQL; SQLite has one writer) serialises its nonces,
        # so two concurrent requests cannot both find room for one.
        if not Q.lock_device(s, device_id):
            raise E.NoSuchObject("no such device")
        Q.delete_expired_nonces(s, device_id, now)
        keep = max(ctx.config.nonces_per_device - 1, 0)
        Q.delete_nonces(s, Q.outstanding_nonces(s, device_id, now)[keep:])
        Q.add_nonce(
            s,
            value=value,
            device_id=device_id,
            purpose=purpose,
            now=now,
            expires_at=now + ctx.config.nonce_validity,
        )
    return value


def use_nonce(s: Session, value: str, device_id: str, purpose: str, now: dt.datetime) -> None:
    """Mark the nonce used (one UPDATE naming every condition); on a refusal, say which
    condition failed."""
    conn = s.connection()
    if Q.use_nonce(conn, value, device_id, purpose, now):
        return
    state = Q.nonce_state(conn, value)
    if state is None or state.device_id != device_id or state.purpose != purpose:
        raise E.NonceUnknown("this nonce was not issued to this device for this purpose")
    if state.used_at is not None:
        raise E.NonceUsed("this signed request was already submitted")
    raise E.NonceExpired("the nonce has expired")


def set_push(ctx: Context, device_id: str, *, enabled: bool, now: dt.datetime) -> None:
    with ctx.db.transaction() as s:
        found = device(s, device_id)
        if enabled and found.push_channel == "none":
            raise E.Conflict("this device enrolled without a push channel")
        found.push_enabled = enabled
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.device.push",
            obj=f"device:{device_id}",
            payload={"enabled": enabled},
        )
