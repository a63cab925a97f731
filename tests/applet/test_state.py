from __future__ import annotations

import pytest
from applet_fakes import PHONE_PASSWORD, Device

from mobile_jpki.applet import (
    AppletState,
    RetryCounter,
    SecretPolicy,
    StateError,
    is_valid_auth_pin,
    is_valid_signing_password,
)
from mobile_jpki.protocol.constants import Slot


@pytest.mark.parametrize(
    ("value", "ok"),
    [(b"ABC123", True), (b"A1B2C3D4E5F6G7H8", True), (b"ABCDEF", False), (b"123456", False),
     (b"abc123", False), (b"AB12", False), (b"A1B2C3D4E5F6G7H8I", False), (b"ABC 12", False)],
)  # fmt: skip
def test_signing_password_format(value: bytes, ok: bool) -> None:
    assert is_valid_signing_password(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"), [(b"1234", True), (b"123", False), (b"12345", False), (b"12a4", False)]
)
def test_auth_pin_format(value: bytes, ok: bool) -> None:
    assert is_valid_auth_pin(value) is ok


def test_retry_counter() -> None:
    c = RetryCounter.full(3)
    assert c.decremented().decremented().decremented().blocked
    assert c.decremented().reset() == c
    with pytest.raises(ValueError):
        RetryCounter(4, 3)
    with pytest.raises(ValueError):
        RetryCounter(0, 16)  # 63 Cx cannot report more than 15


def test_policy_defaults() -> None:
    from mobile_jpki.protocol.constants import Profile

    assert SecretPolicy.for_profile(Profile.CARD).tries(Slot.SIGN) == 5
    assert SecretPolicy.for_profile(Profile.CARD).tries(Slot.AUTH) == 3
    assert SecretPolicy.for_profile(Profile.PHONE_IOS, phone_auth_pin_tries=5).auth_pin_tries == 5


def test_state_round_trip_and_no_plaintext_secrets(phone: Device) -> None:
    raw = phone.store.data
    assert raw is not None
    state = AppletState.from_bytes(raw)
    assert state == phone.applet.state
    assert state.to_bytes() == raw
    assert PHONE_PASSWORD not in raw
    assert state.sign.secret is not None
    assert state.sign.secret.digest != PHONE_PASSWORD


@pytest.mark.parametrize("raw", [b"", b"{}", b'{"version": 99}', b"\xff", b'{"version": 1}'])
def test_unreadable_state(raw: bytes) -> None:
    with pytest.raises(StateError):
        AppletState.from_bytes(raw)
