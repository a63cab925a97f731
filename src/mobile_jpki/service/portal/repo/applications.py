"""Applications (申請), their items (one per certificate), their issuance jobs and the
per-card rate counter: the application's and the issuance job's writes, the superseding of
unfinished applications, and what registration and my page read of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, case, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mobile_jpki.store import direct
from mobile_jpki.store.models import Certificate
from mobile_jpki.store.portal import (
    Application,
    ApplicationItem,
    ApplicationStatus,
    ItemStatus,
    Job,
    JobStatus,
)

from .tables import APP, CARD, DEVICE, ITEM, JOB, RATE

_UNFINISHED = [ApplicationStatus.READY.value, ApplicationStatus.ACCEPTED.value]


# --- hot: the application (Core, store.direct) ----------------------------------------------
def _bump(sqlite: bool) -> Any:
    # A fixed window in one statement: create the counter, or count on in the current window,
    # or start a new window when the old one is over. ON CONFLICT: two first attempts racing
    # to create the row (PostgreSQL) both count, neither fails.
    stmt = (sqlite_insert if sqlite else pg_insert)(RATE).values(
        key=bindparam("b_key"), window_start=bindparam("now"), count=1
    )
    over = RATE.c.window_start <= bindparam("cutoff", type_=RATE.c.window_start.type)
    return stmt.on_conflict_do_update(
        index_elements=[RATE.c.key],
        set_={
            "count": case((over, 1), else_=RATE.c.count + 1),
            "window_start": case((over, stmt.excluded.window_start), else_=RATE.c.window_start),
        },
    ).returning(RATE.c.count, RATE.c.window_start)


_BUMP = {True: _bump(True), False: _bump(False)}


def bump(
    conn: Connection, sqlite: bool, key: str, *, window: dt.timedelta, now: dt.datetime
) -> tuple[int, dt.datetime]:
    """Count one attempt under ``key``; returns (attempts in the window, its start)."""
    ((count, start),) = direct.rows(
        conn, _BUMP[sqlite], {"b_key": key, "now": now, "cutoff": now - window}
    )
    return int(count), start


_INSERT_APPLICATION = insert(APP)
_INSERT_ITEMS = insert(ITEM)
_INSERT_JOB = insert(JOB)


def insert_application(
    conn: Connection,
    application: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    job: Mapping[str, Any],
) -> None:
    """The application, its items (one executemany) and its issuance job. The partial unique
    index on open applications raises IntegrityError if a concurrent one committed first."""
    direct.write(conn, _INSERT_APPLICATION, application)
    direct.write(conn, _INSERT_ITEMS, list(items))
    direct.write(conn, _INSERT_JOB, job)


# One device per execution (executemany over the devices): an expanding IN list would make
# SQLAlchemy render the statement again on every execution.
_SUPERSEDE_ITEMS = (
    update(ITEM)
    .where(
        ITEM.c.application_id.in_(
            select(APP.c.id).where(
                APP.c.device_id == bindparam("device"), APP.c.status.in_(_UNFINISHED)
            )
        )
    )
    .values(status=ItemStatus.REVOKED.value)
)
_SUPERSEDE_APPLICATIONS = (
    update(APP)
    .where(APP.c.device_id == bindparam("device"), APP.c.status.in_(_UNFINISHED))
    .values(status=ApplicationStatus.SUPERSEDED.value, updated_at=bindparam("now"))
)
_RELEASE_HOLDER = update(DEVICE).where(DEVICE.c.id == bindparam("device")).values(holder=False)


def retire(conn: Connection, device_ids: Sequence[str], now: dt.datetime) -> None:
    """The devices' unfinished applications superseded (their items revoked), and the devices
    no longer holders. Their certificates are the CA's business (revoke_many)."""
    if not device_ids:
        return
    devices = [{"device": d} for d in device_ids]
    direct.write(conn, _SUPERSEDE_ITEMS, devices)
    direct.write(conn, _SUPERSEDE_APPLICATIONS, [{**d, "now": now} for d in devices])
    direct.write(conn, _RELEASE_HOLDER, devices)


_UNFINISHED_OF_DEVICE = select(APP.c.id).where(
    APP.c.device_id == bindparam("device"), APP.c.status.in_(_UNFINISHED)
)
_UNREGISTERED_SERIALS = select(ITEM.c.cert_serial).where(
    ITEM.c.application_id.in_(_UNFINISHED_OF_DEVICE),
    ITEM.c.status == ItemStatus.READY.value,
    ITEM.c.cert_serial.is_not(None),
)


def supersede_unfinished(
    conn: Connection, device_id: str, now: dt.datetime
) -> tuple[list[str], list[str]]:
    """A new application of ``device_id`` replaces the device's unfinished ones (an attempt
    abandoned after it was sent: docs/lifecycle.md): they are superseded and their items
    revoked. Returns (their ids, the serials already issued for them and never registered),
    the serials for the caller to revoke."""
    params = {"device": device_id}
    ids = [str(r[0]) for r in conn.execute(_UNFINISHED_OF_DEVICE, params)]
    if not ids:
        return [], []
    serials = [str(r[0]) for r in conn.execute(_UNREGISTERED_SERIALS, params)]
    direct.write(conn, _SUPERSEDE_ITEMS, params)
    direct.write(conn, _SUPERSEDE_APPLICATIONS, {**params, "now": now})
    return ids, serials


# --- hot: the issuance job (Core, store.direct) ---------------------------------------------
def _claim(sqlite: bool) -> Any:
    # An alias: the subquery picks jobs of its own, it is not correlated with the UPDATE.
    queued = JOB.alias("queued")
    due = (
        select(queued.c.id)
        .where(queued.c.status == JobStatus.QUEUED.value, queued.c.run_after <= bindparam("now"))
        .order_by(queued.c.id)
        .limit(bindparam("size"))
    )
    if not sqlite:
        # Several `serve` processes share the queue: each takes different jobs.
        due = due.with_for_update(skip_locked=True)
    # Marked done in the claiming statement: a job is done exactly when its transaction
    # commits; a failure rolls the mark back (and the worker records it in a new one).
    return (
        update(JOB)
        .where(JOB.c.id.in_(due))
        .values(attempts=JOB.c.attempts + 1, status=JobStatus.DONE.value)
        .returning(JOB.c.id, JOB.c.application_id)
    )


_CLAIM = {True: _claim(True), False: _claim(False)}


def claim_jobs(
    conn: Connection, sqlite: bool, now: dt.datetime, size: int
) -> list[tuple[int, str]]:
    """Claim up to ``size`` due jobs, oldest first: [(job id, application id)]."""
    claimed = direct.rows(conn, _CLAIM[sqlite], {"now": now, "size": size})
    return sorted((int(r[0]), str(r[1])) for r in claimed)


@dataclass(frozen=True)
class IssueItem:
    id: str
    kind: str
    spki_der: bytes


@dataclass(frozen=True)
class IssueState:
    """An application about to be issued, as seen under its person's lock."""

    status: str
    card_id: str
    card_status: str
    card_sign_serial: str | None
    card_auth_serial: str | None
    device_id: str
    element_serial: str
    push_enabled: bool
    items: tuple[IssueItem, ...]


_ISSUE_STATE = (
    select(
        APP.c.status,
        APP.c.card_id,
        CARD.c.status,
        CARD.c.sign_serial,
        CARD.c.auth_serial,
        APP.c.device_id,
        DEVICE.c.element_serial,
        DEVICE.c.push_enabled,
        ITEM.c.id,
        ITEM.c.kind,
        ITEM.c.spki_der,
    )
    .select_from(
        APP.join(CARD, CARD.c.id == APP.c.card_id)
        .join(DEVICE, DEVICE.c.id == APP.c.device_id)
        .join(ITEM, ITEM.c.application_id == APP.c.id)
    )
    .where(APP.c.id == bindparam("app"))
    .order_by(ITEM.c.kind)
)


def issue_state(conn: Connection, application_id: str) -> IssueState:
    rows = direct.rows(conn, _ISSUE_STATE, {"app": application_id})
    if not rows:
        raise LookupError("an application without items")
    status, card_id, card_status, sign_serial, auth_serial, device_id, element, push = rows[0][:8]
    return IssueState(
        status,
        card_id,
        card_status,
        sign_serial,
        auth_serial,
        device_id,
        element,
        push,
        items=tuple(IssueItem(r[8], r[9], r[10]) for r in rows),
    )


_ITEM_READY = (
    update(ITEM)
    .where(ITEM.c.id == bindparam("item"))
    .values(cert_serial=bindparam("serial"), status=ItemStatus.READY.value)
)
_APPLICATION_READY = (
    update(APP)
    .where(APP.c.id == bindparam("app"), APP.c.status == ApplicationStatus.ACCEPTED.value)
    .values(status=ApplicationStatus.READY.value, updated_at=bindparam("now"))
)


def application_ready(
    conn: Connection, application_id: str, serials: Mapping[str, str], now: dt.datetime
) -> None:
    """Each item gets its certificate's serial (one executemany), the application is ready."""
    direct.write(conn, _ITEM_READY, [{"item": item, "serial": s} for item, s in serials.items()])
    if direct.write(conn, _APPLICATION_READY, {"app": application_id, "now": now}) != 1:
        raise LookupError("the application left 'accepted' under its person's lock")


# --- the rest (statements over the mapped classes, run by the Session) --------------------
def job(s: Session, job_id: int) -> Job | None:
    return s.get(Job, job_id)


def application(s: Session, application_id: str) -> Application | None:
    return s.get(Application, application_id)


def item(s: Session, item_id: str) -> ApplicationItem | None:
    return s.get(ApplicationItem, item_id)


_READY_REGISTRATIONS = (
    select(ApplicationItem, Certificate)
    .join(Application, Application.id == ApplicationItem.application_id)
    .join(Certificate, Certificate.serial == ApplicationItem.cert_serial)
    .where(
        Application.device_id == bindparam("device"),
        ApplicationItem.status == ItemStatus.READY.value,
    )
    .order_by(ApplicationItem.kind)
)


def ready_registrations(s: Session, device_id: str) -> list[tuple[ApplicationItem, Certificate]]:
    """The device's items ready to register, each with its issued certificate, by kind."""
    return [(i, c) for i, c in s.execute(_READY_REGISTRATIONS, {"device": device_id}).all()]


_UNINSTALLED_ITEM = select(ApplicationItem).where(
    ApplicationItem.application_id == bindparam("app"),
    ApplicationItem.status != ItemStatus.INSTALLED.value,
)


def uninstalled_item(s: Session, application_id: str) -> ApplicationItem | None:
    """An item of the application not installed yet (None: all are)."""
    return s.scalars(_UNINSTALLED_ITEM, {"app": application_id}).first()


_INSTALLED_ITEMS = (
    select(ApplicationItem)
    .join(Application, Application.id == ApplicationItem.application_id)
    .where(
        Application.device_id == bindparam("device"),
        ApplicationItem.status == ItemStatus.INSTALLED.value,
    )
)


def installed_serials(s: Session, device_id: str) -> set[str | None]:
    """The serials of the certificates registered on the device."""
    return {i.cert_serial for i in s.scalars(_INSTALLED_ITEMS, {"device": device_id})}


_DEVICE_APPLICATIONS = select(Application).where(Application.device_id == bindparam("device"))


def device_applications(s: Session, device_id: str) -> list[Application]:
    return list(s.scalars(_DEVICE_APPLICATIONS, {"device": device_id}))


_ITEMS_OF = select(ApplicationItem).where(ApplicationItem.application_id == bindparam("app"))


def items_of(s: Session, application_id: str) -> list[ApplicationItem]:
    return list(s.scalars(_ITEMS_OF, {"app": application_id}))
