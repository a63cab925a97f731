"""Persons, their cards and the operators' API keys: the person's row lock every use case
changing what a person holds takes first, and the register kept by the municipal office."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from mobile_jpki.store import direct
from mobile_jpki.store.portal import ApiKey, Card, Person

from .tables import APP, PERSON, both

# --- the person's row lock -------------------------------------------------------------------
_LOCK_PERSON = both(select(PERSON.c.facts_json).where(PERSON.c.id == bindparam("person")))


def lock_person(conn: Connection, sqlite: bool, person_id: str) -> str | None:
    """Hot path (the application). Lock the person's row (every use case changing what a
    person holds does); returns the facts (JSON), None for no such person."""
    found = direct.rows(conn, _LOCK_PERSON[sqlite], {"person": person_id})
    facts: str | None = found[0][0] if found else None
    return facts


_LOCK_PERSON_OF_APPLICATION = both(
    select(PERSON.c.id, PERSON.c.facts_json).where(
        PERSON.c.id == select(APP.c.person_id).where(APP.c.id == bindparam("app")).scalar_subquery()
    )
)


def lock_person_of(conn: Connection, sqlite: bool, application_id: str) -> tuple[str, str]:
    """Hot path (the issuance job). Lock the row of the application's person (its person
    never changes); returns (person id, facts JSON)."""
    ((person_id, facts),) = direct.rows(
        conn, _LOCK_PERSON_OF_APPLICATION[sqlite], {"app": application_id}
    )
    return str(person_id), str(facts)


_LOCKED_PERSON = both(select(Person).where(Person.id == bindparam("person")))


def locked_person(s: Session, sqlite: bool, person_id: str) -> Person | None:
    """The person's row, locked (as :func:`lock_person`), as the entity the use case may
    change (異動); None for no such person."""
    return s.scalars(_LOCKED_PERSON[sqlite], {"person": person_id}).one_or_none()


def person(s: Session, person_id: str) -> Person | None:
    return s.get(Person, person_id)


def add_person(s: Session, person_id: str, facts_json: str, now: dt.datetime) -> None:
    s.add(Person(id=person_id, facts_json=facts_json, version=1, created_at=now, updated_at=now))


# --- cards -------------------------------------------------------------------------------------
def card(s: Session, card_id: str) -> Card | None:
    return s.get(Card, card_id)


_CARD_BY_APPLET = select(Card).where(Card.applet_serial == bindparam("applet"))


def card_by_applet_serial(s: Session, applet_serial: str) -> Card | None:
    return s.scalars(_CARD_BY_APPLET, {"applet": applet_serial}).first()


def add_card(
    s: Session,
    *,
    card_id: str,
    person_id: str,
    applet_serial: str,
    status: str,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> None:
    s.add(
        Card(
            id=card_id,
            person_id=person_id,
            applet_serial=applet_serial,
            status=status,
            expires_at=expires_at,
            created_at=now,
        )
    )


def delete_card(s: Session, found: Card) -> None:
    """The record of a card that never became usable (no certificate was issued for it)."""
    s.delete(found)


# --- operators' API keys ---------------------------------------------------------------------
_API_KEY_BY_HASH = select(ApiKey).where(ApiKey.key_hash == bindparam("digest"))


def api_key_by_hash(s: Session, digest: str) -> ApiKey | None:
    return s.scalars(_API_KEY_BY_HASH, {"digest": digest}).first()


def revoke_api_key(s: Session, key_id: str, now: dt.datetime) -> None:
    """Revoked, not deleted: the audit log names the key."""
    key = s.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = now


def add_api_key(
    s: Session, *, key_id: str, name: str, role: str, key_hash: str, now: dt.datetime
) -> None:
    s.add(ApiKey(id=key_id, name=name, role=role, key_hash=key_hash, created_at=now))
