"""The operator API's clock (``/operator/v1/clock``): a sandbox's clock moves forward for the
office role; the wall clock of a real CA is refused with a problem, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from portal_world import START, World

from mobile_jpki.clock import SystemClock
from mobile_jpki.phone.client import PortalProblem


def test_the_office_moves_a_movable_clock(world: World) -> None:
    moved = world.operator.advance_clock(49 * 3600)
    assert dt.datetime.fromisoformat(moved) == START + dt.timedelta(hours=49)
    assert world.clock.now() == START + dt.timedelta(hours=49)
    assert world.operator.clock() == {"now": moved, "movable": True}


def test_the_hotline_may_not_move_it(world: World) -> None:
    with pytest.raises(PortalProblem) as problem:
        world.hotline.advance_clock(3600)
    assert problem.value.status == 403 and world.clock.now() == START


def test_the_wall_clock_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.ctx, "clock", SystemClock())
    with pytest.raises(PortalProblem) as problem:
        world.operator.advance_clock(3600)
    assert problem.value.status == 409 and "sandbox" in str(problem.value)
    assert world.operator.clock()["movable"] is False


@pytest.mark.parametrize("seconds", [0, -1, 10 * 366 * 86400 + 1])
def test_a_bad_duration_is_a_problem(world: World, seconds: int) -> None:
    with pytest.raises(PortalProblem) as problem:
        world.operator.advance_clock(seconds)
    assert problem.value.status == 400 and world.clock.now() == START
