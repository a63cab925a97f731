"""The phone app's persistent local state, and the office terminal's operator key.

A real Mynaportal app keeps, between launches, the device credential the portal gave it at
enrolment and which push notifications it has already shown; the secure element keeps the keys
and secrets. The emulated app keeps the same in ``DIR/devices/phones/<id>.app.json`` beside the
element's state file (``<id>.state``), so that every ``mobile-jpki phone …`` command is one
launch of the app.

(Version 1 files also listed ``secrets_set``, the secrets an earlier attempt had set; it is
read and ignored: every application now sets its own secrets, docs/lifecycle.md.)

The file holds a bearer credential: it is written like the element's state (0600 in a 0700
directory, atomic replace, refused when another process changed it since it was read —
:class:`~mobile_jpki.reader.statefile.StateFile`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mobile_jpki.reader.emulated import validate_id
from mobile_jpki.reader.statefile import StateFile, StateFileError

PROFILE_VERSION = 1
OPERATOR_KEY_FILE = Path("portal") / "operator-api-key"


class AppProfileError(Exception):
    """The app's local state is missing or unusable (worded for a person at a terminal)."""


class ProfileNotFound(AppProfileError):
    def __init__(self, phone_id: str, path: Path) -> None:
        self.phone_id = phone_id
        self.path = path
        super().__init__(
            f"phone {phone_id!r} has no app profile ({path.name}): the app was never enrolled "
            "on it (`mobile-jpki phone new`)"
        )


class ProfileCorrupt(AppProfileError):
    pass


@dataclass(frozen=True)
class AppProfile:
    """What the app remembers between launches, per phone."""

    phone_id: str
    device_id: str
    credential: str
    seen_push: frozenset[int] = field(default_factory=frozenset)
    # Instructions whose "kept after 48 hours" notice was shown (once, docs/lifecycle.md).
    seen_notices: frozenset[str] = field(default_factory=frozenset)

    def updated(
        self,
        *,
        seen_push: set[int] | frozenset[int],
        seen_notices: set[str] | frozenset[str] | None = None,
    ) -> AppProfile:
        notices = self.seen_notices if seen_notices is None else frozenset(seen_notices)
        return replace(self, seen_push=frozenset(seen_push), seen_notices=notices)

    def to_json(self) -> bytes:
        body = {
            "version": PROFILE_VERSION,
            "phone_id": self.phone_id,
            "device_id": self.device_id,
            "credential": self.credential,
            "seen_push": sorted(self.seen_push),
            "seen_notices": sorted(self.seen_notices),
        }
        return (json.dumps(body, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, *, where: Path) -> AppProfile:
        try:
            body: Any = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict) or body.get("version") != PROFILE_VERSION:
                raise ValueError("unknown format version")
            return cls(
                phone_id=str(body["phone_id"]),
                device_id=str(body["device_id"]),
                credential=str(body["credential"]),
                seen_push=frozenset(int(i) for i in body.get("seen_push", [])),
                seen_notices=frozenset(str(i) for i in body.get("seen_notices", [])),
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ProfileCorrupt(f"{where} is not a mobile-jpki app profile: {exc}") from exc


def profile_path(data_dir: Path | str, phone_id: str) -> Path:
    """``DIR/devices/phones/<id>.app.json``; the id is checked before any path is built."""
    return Path(data_dir) / "devices" / "phones" / f"{validate_id(phone_id)}.app.json"


class ProfileStore:
    """One phone's profile file. Load before save: a save is refused when another process
    changed the file since this store read it (``StaleState``), never silently merged."""

    def __init__(self, data_dir: Path | str, phone_id: str) -> None:
        self.phone_id = phone_id
        self.path = profile_path(data_dir, phone_id)
        self._file = StateFile(self.path)
        self._loaded = False

    def exists(self) -> bool:
        return self._file.exists()

    def load(self) -> AppProfile:
        raw = self._file.load()
        self._loaded = True
        if raw is None:
            raise ProfileNotFound(self.phone_id, self.path)
        profile = AppProfile.from_json(raw, where=self.path)
        if profile.phone_id != self.phone_id:
            raise ProfileCorrupt(f"{self.path} belongs to phone {profile.phone_id!r}")
        return profile

    def save(self, profile: AppProfile) -> None:
        if profile.phone_id != self.phone_id:
            raise ValueError("a profile is saved under its own phone id")
        if not self._loaded:
            # First save through this store: read the current identity so a concurrent
            # writer is detected rather than overwritten.
            self._file.load()
            self._loaded = True
        self._file.save(profile.to_json())


class OperatorKeyFile:
    """The municipal office terminal's operator API key, ``DIR/portal/operator-api-key`` (0600).

    The portal stores only its SHA-256 (docs/portal.md), so the secret shown once at creation is
    kept here for the in-process CLI and the demo; over HTTP the key comes from the operator.
    """

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / OPERATOR_KEY_FILE
        self._file = StateFile(self.path)

    def load(self) -> str | None:
        raw = self._file.load()
        if raw is None:
            return None
        key = raw.decode("ascii", errors="replace").strip()
        if not key:
            raise ProfileCorrupt(f"{self.path} is empty")
        return key

    def save(self, key: str) -> None:
        self._file.load()
        self._file.save(key.encode("ascii") + b"\n")


__all__ = [
    "AppProfile",
    "AppProfileError",
    "OperatorKeyFile",
    "ProfileCorrupt",
    "ProfileNotFound",
    "ProfileStore",
    "StateFileError",
    "profile_path",
]
