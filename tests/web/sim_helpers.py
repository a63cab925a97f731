"""Helpers shared by the simulator tests (imported by name: tests have no packages)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mobile_jpki.phone.app.fake import FakeWorld
from mobile_jpki.web.simulator import SimulatorWorld, fake_world_factory


@dataclass
class RecordingFactory:
    """The default fake world, remembering every world it made so tests can inspect it."""

    worlds: list[FakeWorld] = field(default_factory=list)

    def __call__(self) -> SimulatorWorld:
        made = fake_world_factory()
        backend = made.old
        self.worlds.append(backend.world)  # type: ignore[attr-defined]
        return made


@dataclass
class LiveServer:
    url: str
    factory: RecordingFactory
