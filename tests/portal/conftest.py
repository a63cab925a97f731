"""Fixtures of the portal tests: defined in portal_world.py, registered here."""

from __future__ import annotations

from portal_world import database, world

__all__ = ["database", "world"]
