"""Shared fixtures. Package-specific fixtures live in each tests/<package>/conftest.py."""

from __future__ import annotations

import datetime as dt

import pytest

from mobile_jpki.clock import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC))
