"""The portal's repository: every SQL statement of the portal, and nothing else. The use-case
modules (``operators``, ``registry``, ``devices``, ``applications``, ``jobs``, …) call the named
functions here (``Q.card(s, card_id)``, ``Q.held_card_certificates(s, person_id)``) and build
no statement of their own (tests/test_layering.py checks it). Split by what the rows belong
to: :mod:`.people` (persons, cards, API keys), :mod:`.devices` (devices, nonces, instructions,
the outbox), :mod:`.applications` (applications, items, jobs, the rate counter) and
:mod:`.certificates` (the CA's rows, read only); this package exports them all as one
namespace.

The style, one rule:

- **Every statement is built once, at module level** (a constant with named
  bind parameters, or a pair of them with and without ``FOR UPDATE``); no function builds
  SQL per call, so SQLAlchemy's compiled cache (or :mod:`~mobile_jpki.store.direct`'s) always
  hits.
- **The hot transactions** (the application, the issuance job, the retirement of devices:
  docs/portal.md "Figures") are Core statements over the tables, run by
  :mod:`mobile_jpki.store.direct` on the session's ``Connection`` (on SQLite straight on
  pysqlite, compiled once, ~20-40 µs each; elsewhere through ``Connection.execute``,
  ~180 µs on PostgreSQL, against 0.2-1 ms for an ORM query or flush). Their functions take
  the ``Connection``; rows come back as tuples or frozen dataclasses in the statement's
  column order; status changes are single UPDATEs that name the expected old state and
  batches are one executemany. They see no pending ORM change: the hot transactions make
  none.
- **Everything else** is a statement over the mapped classes, run by the ``Session``
  (``Session.get`` by primary key, ``Session.scalars``/``Session.execute`` otherwise), whose
  functions take the ``Session``: the session autoflushes the use case's pending changes
  before each read, and what comes back are entities the use case may change; the unit of
  work writes those changes and the rows added here (``Session.add``).

Row locks follow :meth:`~mobile_jpki.store.db.Database.lock`: ``FOR UPDATE`` on PostgreSQL
(READ COMMITTED), nothing on SQLite, whose write transactions hold the database lock from
``BEGIN IMMEDIATE``. On PostgreSQL whatever must be seen as it is *after* the person's row
lock is read by a statement issued after the locking one: a READ COMMITTED statement that
waited for a lock re-checks only the rows it locked, not the rest of its snapshot.
"""

from __future__ import annotations

from .applications import (
    IssueItem,
    IssueState,
    application,
    application_ready,
    bump,
    claim_jobs,
    device_applications,
    insert_application,
    installed_serials,
    issue_state,
    item,
    items_of,
    job,
    ready_registrations,
    retire,
    supersede_unfinished,
    uninstalled_item,
)
from .certificates import (
    CARD_KIND_VALUES,
    PHONE_KIND_VALUES,
    SignerRow,
    UnrevokedCertificate,
    certificate,
    devices_with_unrevoked_phone_certificates,
    good_person_certificates,
    held_card_certificates,
    phone_certificates,
    signer,
    unrevoked_certificates,
    unrevoked_person_certificates,
)
from .devices import (
    ApplyingDevice,
    DeviceRef,
    add_device,
    add_nonce,
    applying_device,
    delete_expired_nonces,
    delete_messages,
    delete_nonces,
    delete_unused_nonces,
    delivered_messages,
    device,
    device_of_element,
    enqueue,
    has_applied,
    holder_devices,
    insert_instructions,
    instruction,
    lapsed_instructions,
    lock_device,
    make_holder,
    nonce_state,
    other_holders,
    outbox_row,
    outstanding_nonces,
    pending_instructions,
    ref,
    stale_nonces,
    use_nonce,
    withdraw_deletions,
)
from .people import (
    add_api_key,
    add_card,
    add_person,
    api_key_by_hash,
    card,
    card_by_applet_serial,
    delete_card,
    lock_person,
    lock_person_of,
    locked_person,
    person,
    revoke_api_key,
)

__all__ = [
    "CARD_KIND_VALUES",
    "PHONE_KIND_VALUES",
    "ApplyingDevice",
    "DeviceRef",
    "IssueItem",
    "IssueState",
    "SignerRow",
    "UnrevokedCertificate",
    "add_api_key",
    "add_card",
    "add_device",
    "add_nonce",
    "add_person",
    "api_key_by_hash",
    "application",
    "application_ready",
    "applying_device",
    "bump",
    "card",
    "card_by_applet_serial",
    "certificate",
    "claim_jobs",
    "delete_card",
    "delete_expired_nonces",
    "delete_messages",
    "delete_nonces",
    "delete_unused_nonces",
    "delivered_messages",
    "device",
    "device_applications",
    "device_of_element",
    "devices_with_unrevoked_phone_certificates",
    "enqueue",
    "good_person_certificates",
    "has_applied",
    "held_card_certificates",
    "holder_devices",
    "insert_application",
    "insert_instructions",
    "installed_serials",
    "instruction",
    "issue_state",
    "item",
    "items_of",
    "job",
    "lapsed_instructions",
    "lock_device",
    "lock_person",
    "lock_person_of",
    "locked_person",
    "make_holder",
    "nonce_state",
    "other_holders",
    "outbox_row",
    "outstanding_nonces",
    "pending_instructions",
    "person",
    "phone_certificates",
    "ready_registrations",
    "ref",
    "retire",
    "revoke_api_key",
    "signer",
    "stale_nonces",
    "supersede_unfinished",
    "uninstalled_item",
    "unrevoked_certificates",
    "unrevoked_person_certificates",
    "use_nonce",
    "withdraw_deletions",
]
