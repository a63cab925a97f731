"""The pure lifecycle model (src/mobile_jpki/lifecycle.py) and its description in
docs/lifecycle.md: every transition of the table is documented, and nothing else is."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from mobile_jpki.lifecycle import (
    TRANSITIONS,
    CertEvent,
    CertState,
    ReleaseStep,
    TransitionNotAllowed,
    kinds_for_age,
    next_state,
    release_plan,
    revocation_secret,
)
from mobile_jpki.pki.model import Hierarchy

DOC = Path(__file__).resolve().parents[1] / "docs" / "lifecycle.md"
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def _documented() -> set[tuple[CertState, CertEvent, CertState]]:
    """The rows of the doc's transition table: `from | event | to | …` (a `from` cell may list
    several states separated by commas)."""
    rows = set()
    section = DOC.read_text(encoding="utf-8").split("## Certificate transitions")[1]
    section = section.split("\n## ")[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[1] not in {e.value for e in CertEvent}:
            continue
        for state in re.split(r",\s*", cells[0]):
            rows.add((CertState(state), CertEvent(cells[1]), CertState(cells[2])))
    return rows


def test_the_document_and_the_table_agree() -> None:
    table = {(s, e, t) for (s, e), t in TRANSITIONS.items()}
    assert _documented() == table


def test_every_state_is_reachable_from_none_and_leads_back_to_registered() -> None:
    """No dead end in the model itself: from every state some sequence of events reaches
    REGISTERED, and every state is reachable from NONE."""
    edges: dict[CertState, set[CertState]] = {s: set() for s in CertState}
    for (s, _), t in TRANSITIONS.items():
        edges[s].add(t)

    def reach(start: CertState) -> set[CertState]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    assert reach(CertState.NONE) == set(CertState)
    for state in CertState:
        assert CertState.REGISTERED in reach(state), state


def test_forbidden_transitions_say_what_and_from_where() -> None:
    with pytest.raises(TransitionNotAllowed, match="a none certificate cannot register"):
        next_state(CertState.NONE, CertEvent.REGISTER)
    assert next_state(CertState.READY, CertEvent.REGISTER) is CertState.REGISTERED


def test_the_secret_asked_is_that_of_the_certificate_acted_on() -> None:
    both = frozenset({Hierarchy.SIGN, Hierarchy.AUTH})
    assert revocation_secret(both) is Hierarchy.SIGN
    assert revocation_secret(frozenset({Hierarchy.SIGN})) is Hierarchy.SIGN
    assert revocation_secret(frozenset({Hierarchy.AUTH})) is Hierarchy.AUTH
    with pytest.raises(ValueError, match="at least one"):
        revocation_secret(frozenset())


def test_release_unholds_auth_and_reissues_signing() -> None:
    plan = release_plan(frozenset({Hierarchy.SIGN, Hierarchy.AUTH}))
    assert plan == {Hierarchy.AUTH: ReleaseStep.UNHOLD, Hierarchy.SIGN: ReleaseStep.REISSUE}
    assert release_plan(frozenset({Hierarchy.AUTH})) == {Hierarchy.AUTH: ReleaseStep.UNHOLD}


@pytest.mark.parametrize(
    ("born", "kinds"),
    [
        (dt.date(2011, 12, 7), {Hierarchy.SIGN, Hierarchy.AUTH}),  # 15 today (JST)
        (dt.date(2011, 12, 8), {Hierarchy.AUTH}),  # 15 tomorrow
        (dt.date(1990, 4, 1), {Hierarchy.SIGN, Hierarchy.AUTH}),
    ],
)
def test_under_15_gets_user_authentication_only(born: dt.date, kinds: set[Hierarchy]) -> None:
    assert kinds_for_age(born, NOW) == kinds
