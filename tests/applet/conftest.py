"""Fixtures for the applet tests (helpers live in applet_fakes.py)."""

from __future__ import annotations

import pytest
from applet_fakes import Device, make_card, make_phone

from mobile_jpki.clock import FixedClock


@pytest.fixture
def card(clock: FixedClock) -> Device:
    return make_card(clock)


@pytest.fixture
def blank_card(clock: FixedClock) -> Device:
    return make_card(clock, personalised=False)


@pytest.fixture
def phone(clock: FixedClock) -> Device:
    return make_phone(clock)
