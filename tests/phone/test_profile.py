"""The app's local state: round trip, file mode, id checks, refusal of a stale writer."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mobile_jpki.phone.profile import (
    AppProfile,
    OperatorKeyFile,
    ProfileCorrupt,
    ProfileNotFound,
    ProfileStore,
    profile_path,
)
from mobile_jpki.reader.emulated import InvalidDeviceId
from mobile_jpki.reader.statefile import StaleState


def test_round_trip_keeps_every_field_and_is_private(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path, "new-phone")
    profile = AppProfile("new-phone", "dev1", "secret-credential").updated(seen_push={3, 1})
    store.save(profile)
    assert ProfileStore(tmp_path, "new-phone").load() == profile
    path = tmp_path / "devices" / "phones" / "new-phone.app.json"
    assert store.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_missing_profile_names_the_phone(tmp_path: Path) -> None:
    with pytest.raises(ProfileNotFound, match="phone new"):
        ProfileStore(tmp_path, "x").load()


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "UPPER", "-x"])
def test_path_tricks_in_ids_are_refused_before_any_path(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidDeviceId):
        profile_path(tmp_path, bad)


def test_corrupt_or_foreign_files_are_refused(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path, "p")
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(ProfileCorrupt):
        store.load()
    ProfileStore(tmp_path, "q").save(AppProfile("q", "d", "c"))
    store.path.write_bytes(ProfileStore(tmp_path, "q").path.read_bytes())
    with pytest.raises(ProfileCorrupt, match="belongs to phone 'q'"):
        ProfileStore(tmp_path, "p").load()


def test_a_concurrent_writer_is_refused_not_overwritten(tmp_path: Path) -> None:
    first, second = ProfileStore(tmp_path, "p"), ProfileStore(tmp_path, "p")
    first.save(AppProfile("p", "d", "c"))
    profile = second.load()
    first.save(profile.updated(seen_push={1}))
    with pytest.raises(StaleState):
        second.save(profile.updated(seen_push={2}))
    assert ProfileStore(tmp_path, "p").load().seen_push == frozenset({1})


def test_operator_key_file(tmp_path: Path) -> None:
    keys = OperatorKeyFile(tmp_path)
    assert keys.load() is None
    keys.save("mjk_abc")
    assert OperatorKeyFile(tmp_path).load() == "mjk_abc"
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
