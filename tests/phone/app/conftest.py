"""Fixtures for the app state machine: a FakeWorld with an old phone holding certificates."""

from __future__ import annotations

import pytest
from app_walk import Phones

from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.app.fake import FakeWorld
from mobile_jpki.phone.app.flows import PhoneApp


@pytest.fixture
def world(clock: FixedClock) -> FakeWorld:
    return FakeWorld(clock)


@pytest.fixture
def phones(world: FakeWorld, clock: FixedClock) -> Phones:
    world.give_registered_certificates("old-phone")
    return Phones(
        world,
        PhoneApp(world.backend("old-phone"), clock),
        PhoneApp(world.backend("new-phone"), clock),
    )
