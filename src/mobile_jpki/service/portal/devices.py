"""Devices (a phone's secure element): enrolment by factory attestation, the device
credential, the one-time nonces its signed requests carry, and its push setting."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy.orm import Session

from mobile_jpki.protocol.attestation import AttestationError, element_serial

from . import errors as E
from . import repo as Q
from .context import Context, device, need, sha256


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    credential: str  # "<device_id>.<secret>": shown once, stored hashed


def enrol_device(
    ctx: Context, *, attestation_der: bytes, push_channel: str, now: dt.datetime
) -> Enrolment:
    """Register a secure element by its factory attestation certificate, which must chain
    to a configured manufacturer root. The credential authenticates later calls."""
    try:
        x509.load_der_x509_certificate(attestation_der)
    except ValueError:
        raise E.RequestInvalid("the attestation certificate is not DER X.509") from None
    try:
        # Checked as every application checks it (and remembered: the first application
        # then finds it chained already).
        cert = ctx.attestations.check(attestation_der, ctx.manufacturer_roots, now=now)
        serial = element_serial(cert)
    except AttestationError as exc:
        raise E.AttestationInvalid(str(exc)) from None
    if push_channel not in ("inprocess", "sse", "none"):
        raise E.RequestInvalid("push_channel must be inprocess, sse or none")
    device_id = ctx.new_id()
    secret = ctx.rand(32).hex()
    with ctx.db.transaction() as s:
        Q.add_device(
            s,
            device_id=device_id,
            element_serial=serial.hex(),
            attestation_der=attestation_der,
            credential_hash=sha256(secret),
            push_channel=push_channel,
            push_enabled=push_channel != "none",
            now=now,
        )
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.device.enrol",
            obj=f"device:{device_id}",
            payload={"channel": push_channel},
        )
    return Enrolment(device_id, f"{device_id}.{secret}")


def authenticate_device(ctx: Context, credential: str, *, now: dt.datetime) -> str:
    """Check ``<device_id>.<secret>``; ``credential_failures`` wrong secrets lock the
    device's credential for ``credential_window``."""
    device_id, _, secret = credential.partition(".")
    if not device_id or not secret or len(device_id) > 64:
        raise E.Unauthenticated("malformed device credential")
    with ctx.db.transaction(write=False) as s:
        found = Q.device(s, device_id)
        if found is None:
            raise E.Unauthenticated("unknown device")
        locked_until = found.locked_until
        ok = hmac.compare_digest(found.credential_hash, sha256(secret))
        failures = found.failed_auth
    if locked_until is not None and locked_until > now:
        # Retry-After (RFC 9110 §10.2.3) like every other 429 of the portal.
        raise E.RateLimited(
            "too many wrong credentials; the device is locked for a while",
            retry_after=int((locked_until - now).total_seconds()) + 1,
        )
    if ok:
        if failures:
            # A right secret resets the count (as a PIN counter does); written only then,
            # so the common path stays read-only.
            with ctx.db.transaction() as s:
                need(Q.device(s, device_id)).failed_auth = 0
        return device_id
    with ctx.db.transaction() as s:
        found = need(Q.device(s, device_id))
        found.failed_auth += 1
        if found.failed_auth >= ctx.config.credential_failures:
            found.failed_auth = 0
            found.locked_until = now + ctx.config.credential_window
            ctx.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.device.locked",
                obj=f"device:{device_id}",
            )
    raise E.Unauthenticated("wrong device credential")


def new_nonce(ctx: Context, device_id: str, *, purpose: str, now: dt.datetime) -> str:
    value = ctx.rand(32).hex()
    with ctx.db.transaction() as s:
        device(s, device_id)
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
