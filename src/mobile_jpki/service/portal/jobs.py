"""Issuance jobs, run by the worker: the model-change transaction (:func:`_issue`) in batches
(group commit), failures and retries, and the housekeeping of stale rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from mobile_jpki.pki.model import CertKind
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.pki.validity import EligibilityError, ValidityError, phone_validity
from mobile_jpki.protocol.instructions import ALL_ACTIONS, InstructionReason
from mobile_jpki.push import outbox
from mobile_jpki.store.models import CertRecordStatus, serial_hex
from mobile_jpki.store.portal import ApplicationStatus, CardStatus, JobStatus

from . import errors as E
from . import repo as Q
from .config import SQLITE_JOBS_PER_TRANSACTION
from .context import (
    ACTOR,
    PHONE_KIND_VALUES,
    Context,
    device,
    facts_from_json,
    need,
    public_key,
    unrevoked,
)
from .instructions import DELETE_OF
from .ports import IssueOrder, SignedWrites
from .revocation import retire_devices


def run_jobs(ctx: Context, *, now: dt.datetime, limit: int = 100) -> int:
    """Process due jobs, up to ``jobs_per_transaction`` per transaction; returns how many
    were processed (issued, failed, or put back for a retry)."""
    per_transaction = ctx.config.jobs_per_transaction or (
        SQLITE_JOBS_PER_TRANSACTION if ctx.db.is_sqlite else 1
    )
    done = 0
    while done < limit:
        size = min(per_transaction, limit - done)
        processed = _run_batch(ctx, now, size)
        done += processed
        if processed < size:
            break  # the queue is empty for now
    return done


def _run_batch(ctx: Context, now: dt.datetime, size: int) -> int:
    """Up to ``size`` due jobs in ONE transaction: group commit, one commit (one fsync)
    and one audit-chain append for the batch instead of one per job. All or nothing: if
    any job of the batch fails, everything rolls back (the claim too) and the batch's
    jobs run again one per transaction (:func:`_run_one`), where a failure is recorded
    for its own job. Nothing of a batch is visible, pushed or answered by OCSP before its
    commit, so each model change still commits as a whole."""
    if size <= 1:
        return 0 if _run_one(ctx, now) is None else 1
    ctx.ready_ca(now)
    claimed: list[tuple[int, str]] = []
    try:
        with ctx.db.transaction() as s, ctx.authority.signing_later() as later:
            claimed = Q.claim_jobs(s.connection(), ctx.db.is_sqlite, now, size)
            for _, application_id in claimed:
                _issue(ctx, s, application_id, now, later)
            return len(claimed)
    except Exception:
        if not claimed:
            raise
    processed = 0
    for _ in claimed:
        if _run_one(ctx, now) is None:
            break
        processed += 1
    return processed


def _run_one(ctx: Context, now: dt.datetime) -> str | None:
    ctx.ready_ca(now)
    job_id: int | None = None
    try:
        with ctx.db.transaction() as s, ctx.authority.signing_later() as later:
            one = Q.claim_jobs(s.connection(), ctx.db.is_sqlite, now, 1)
            if not one:
                return None
            job_id, application_id = one[0]
            _issue(ctx, s, application_id, now, later)
            return application_id
    except E.PortalError as exc:
        _fail_application(ctx, need(job_id), exc.code, now)
        return "failed"
    except Exception as exc:
        if job_id is None:
            raise
        _retry(ctx, job_id, exc, now)
        return "retry"


def _fail_application(ctx: Context, job_id: int, code: str, now: dt.datetime) -> None:
    with ctx.db.transaction() as s:
        job = need(Q.job(s, job_id))
        job.status, job.last_error = JobStatus.FAILED.value, code
        app = need(Q.application(s, job.application_id))
        app.status, app.failure_code, app.updated_at = ApplicationStatus.FAILED.value, code, now
        outbox.enqueue(
            s,
            device(s, app.device_id),
            outbox.APPLICATION_FAILED,
            {"application": app.id, "code": code},
            now=now,
        )
        ctx.audit.record(
            s,
            at=now,
            actor="worker",
            action="portal.application.fail",
            obj=f"application:{app.id}",
            payload={"code": code},
        )


def _retry(ctx: Context, job_id: int, exc: Exception, now: dt.datetime) -> None:
    with ctx.db.transaction() as s:
        job = need(Q.job(s, job_id))
        job.attempts += 1
        job.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if job.attempts >= ctx.config.job_attempts:
            job.status = JobStatus.FAILED.value
        else:
            job.run_after = now + outbox.backoff(job.attempts)
    if job.status == JobStatus.FAILED.value:
        _fail_application(ctx, job_id, "issuance-failed", now)


def _issue(
    ctx: Context, s: Session, application_id: str, now: dt.datetime, later: SignedWrites
) -> None:
    """The model-change transaction: revoke what any other device of the person holds
    (superseded), hand that device a deletion instruction valid 48 hours, issue the new
    certificates, make this device the holder, announce 登録準備完了.

    Reads: the person's row lock, then (after it) the application with its card, device
    and items in one query, the person's other holder devices, and every unrevoked
    certificate involved (the card's, the devices') in one query.

    Its RSA signatures (the revoked answers, the certificates and their "good" answers)
    are started as soon as they are known and written by ``later`` before the commit: the
    next job of the batch is read and written while they are signed."""
    conn = s.connection()
    person_id, facts_json = Q.lock_person_of(conn, ctx.db.is_sqlite, application_id)
    app = Q.issue_state(conn, application_id)
    if app.status != ApplicationStatus.ACCEPTED.value:
        return
    if app.card_status != CardStatus.ACTIVE.value:
        raise E.CardCertificateRevoked("the card was replaced after the application")
    others = Q.other_holders(conn, person_id, app.device_id)
    certs = unrevoked(
        s,
        [x for x in (app.card_sign_serial, app.card_auth_serial) if x],
        [app.device_id, *(o.id for o in others)],
    )
    by_serial = {c.serial: c for c in certs}
    limits: dict[CertKind, dt.datetime] = {}
    for kind, serial in (
        (CertKind.PHONE_SIGN, app.card_sign_serial),
        (CertKind.PHONE_AUTH, app.card_auth_serial),
    ):
        row = by_serial.get(serial) if serial else None
        if row is None:  # only unrevoked certificates were read
            raise E.CardCertificateRevoked(
                f"the card's {kind.hierarchy.value} certificate was revoked after applying"
            )
        if row.status == CertRecordStatus.HELD.value:
            raise E.CardCertificateHeld("the card's certificate is suspended")
        if row.not_after <= now:
            raise E.CardCertificateExpired("the card's certificate expired")
        # Phone certificates never outlive the card certificate they were applied with.
        limits[kind] = row.not_after
    revoked = retire_devices(
        ctx, s, others, certs, Reason.SUPERSEDED, InstructionReason.MODEL_CHANGE, now, later=later
    )
    wanted = {i.kind for i in app.items}
    # Same device applying again: its older certificate of a requested kind is superseded.
    again = [
        int(c.serial, 16)
        for c in certs
        if c.device_id == app.device_id and c.kind in wanted and c.kind in PHONE_KIND_VALUES
    ]
    if again:
        ctx.authority.revoke_many(
            again, Reason.SUPERSEDED, now, actor=ACTOR, session=s, later=later
        )
        revoked += again
    Q.make_holder(conn, app.device_id, person_id)
    # Holder again (a model change back): a deletion still queued for this device from its
    # earlier retirement must not reach the slots it is now issued for, so it stops naming
    # them, and is cancelled when nothing is left (issue 16 §3; docs/security.md, "Management
    # instructions").
    drop = 0
    for wanted_kind in wanted:
        drop |= DELETE_OF.get(wanted_kind, 0)
    if drop:
        Q.withdraw_deletions(conn, app.device_id, drop, ALL_ACTIONS & ~drop, now)
    facts, locality = facts_from_json(facts_json)
    orders: list[IssueOrder] = []
    for item in app.items:
        kind = CertKind(item.kind)
        sign = kind is CertKind.PHONE_SIGN
        try:
            nb, end = phone_validity(
                now=now,
                card_certificate_not_after=limits[kind],
                date_of_birth=facts.date_of_birth,
                signing=sign,
            )
        except EligibilityError:
            raise E.NotEligible("signing certificates are issued from age 15") from None
        except ValidityError as exc:
            raise E.CardCertificateExpired(str(exc)) from None
        orders.append(
            IssueOrder(
                kind,
                public_key(item.spki_der),
                ctx.new_id(),
                nb,
                end,
                facts=facts if sign else None,
                locality=locality if sign else None,
                person_id=person_id,
                card_id=app.card_id,
                device_id=app.device_id,
            )
        )
    # Both certificates with their pre-signed OCSP "good" answers, in this transaction.
    issued_serials = ctx.authority.issue_later(orders, now, actor=ACTOR, session=s, later=later)
    serials = {
        item.id: serial_hex(serial) for item, serial in zip(app.items, issued_serials, strict=True)
    }
    issued = {item.kind: serials[item.id] for item in app.items}
    Q.application_ready(conn, application_id, serials, now)
    target = Q.DeviceRef(app.device_id, app.element_serial, app.push_enabled)
    Q.enqueue(
        conn,
        [
            Q.outbox_row(
                target,
                outbox.REGISTRATION_READY,
                {"application": application_id, "certificates": sorted(issued)},
                now,
            )
        ],
    )
    ctx.audit.record(
        s,
        at=now,
        actor="worker",
        action="portal.application.issue",
        obj=f"application:{application_id}",
        payload={
            "issued": [f"{k}:{v}" for k, v in sorted(issued.items())],
            "superseded": [serial_hex(x) for x in revoked],
        },
    )


# --- housekeeping ---------------------------------------------------------------------------
def housekeeping(
    ctx: Context, *, now: dt.datetime, keep: dt.timedelta = dt.timedelta(days=7)
) -> int:
    """Forget what no longer matters: nonces that expired unused and push messages
    delivered more than ``keep`` ago. Used nonces stay (an application references its
    nonce: the replay evidence). Returns the rows removed."""
    with ctx.db.transaction() as s:
        nonces = Q.stale_nonces(s, now - keep)
        messages = Q.delivered_messages(s, now - keep)
        Q.delete_nonces(s, nonces)
        Q.delete_messages(s, messages)
    return len(nonces) + len(messages)
