"""Abuse limits (issue 16 §5), through the HTTP API: one device per element however often its
public attestation certificate is enrolled, a bounded number of outstanding nonces per device,
and wrong secrets that lock out only the client that sent them."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from portal_world import World
from sqlalchemy import func, select

from mobile_jpki.phone.client import PortalClient, PortalProblem
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.service.portal.limits import client_key
from mobile_jpki.store.portal import Device, Nonce


def refused(call: object, *args: object, **kwargs: object) -> PortalProblem:
    with pytest.raises(PortalProblem) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value


def attestation_der(phone: ScriptedPhone) -> bytes:
    phone.element.select_ap()
    return phone.element.attestation_certificate().public_bytes(Encoding.DER)


def device_rows(world: World) -> int:
    with world.db.transaction(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Device)) or 0)


def outstanding(world: World, device_id: str) -> set[str]:
    with world.db.transaction(write=False) as s:
        rows = s.scalars(
            select(Nonce.value).where(
                Nonce.device_id == device_id,
                Nonce.used_at.is_(None),
                Nonce.expires_at >= world.clock.now(),
            )
        )
        return set(rows)


# --- enrolment ---------------------------------------------------------------------------------
def test_an_enrolment_flood_of_one_certificate_adds_no_device(world: World) -> None:
    phone = world.new_phone("p")
    der = attestation_der(phone)
    stranger = PortalClient(world.http)
    answers = [stranger.enrol(der, push_channel="none")["device_id"] for _ in range(20)]
    assert set(answers) == {phone.device_id}
    assert device_rows(world) == 1


def test_re_enrolment_before_applying_replaces_the_credential(world: World) -> None:
    """Nothing hangs on a device that never applied; the last enrolment owns it, so a squatter
    who enrolled a copied certificate first cannot keep the genuine phone out."""
    squatter = world.new_phone("p")
    squatter_credential = squatter.api.credential
    genuine = PortalClient(world.http)
    response = world.http.post(
        "/portal/v1/devices",
        json={
            "attestation_certificate": base64.b64encode(attestation_der(squatter)).decode(),
            "push_channel": "none",
        },
    )
    assert response.status_code == 200  # not created: the element's existing device
    assert response.json()["device_id"] == squatter.device_id
    genuine.credential = response.json()["credential"]
    assert genuine.nonce("application")
    squatter.api.credential = squatter_credential
    assert refused(squatter.api.nonce, "application").code == "unauthenticated"
    # The squatter's nonces were issued under the replaced credential: gone.
    assert len(outstanding(world, str(squatter.device_id))) == 1


def test_after_an_application_the_credential_is_not_issued_again(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    world.apply_for_auth(phone, card)
    problem = refused(PortalClient(world.http).enrol, attestation_der(phone))
    assert (problem.status, problem.code) == (409, "device-enrolled")
    assert problem.body["device_id"] == phone.device_id
    assert "credential" not in problem.body
    assert phone.api.my_page()["device_id"] == phone.device_id  # the owner is untouched
    assert device_rows(world) == 1


# --- nonces ------------------------------------------------------------------------------------
def test_outstanding_nonces_per_device_are_bounded_oldest_dropped(world: World) -> None:
    phone = world.new_phone("p")
    assert phone.device_id is not None
    issued = []
    for _ in range(20):
        issued.append(phone.api.nonce("application"))
        world.clock.advance(dt.timedelta(seconds=1))
    assert outstanding(world, phone.device_id) == set(issued[-8:])
    with world.db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Nonce)) == 8  # dropped, not kept


def test_the_nonce_bound_is_configurable_and_expired_ones_go(world: World) -> None:
    world.service.config = dataclasses.replace(world.service.config, nonces_per_device=2)
    phone = world.new_phone("p")
    assert phone.device_id is not None
    for _ in range(5):
        phone.api.nonce("inquiry")
    assert len(outstanding(world, phone.device_id)) == 2
    world.clock.advance(dt.timedelta(minutes=11))  # past nonce_validity
    fresh = phone.api.nonce("inquiry")
    with world.db.transaction(write=False) as s:
        assert set(s.scalars(select(Nonce.value))) == {fresh}


# --- lockout -----------------------------------------------------------------------------------
def test_a_stranger_cannot_lock_the_owner_out(world: World) -> None:
    phone = world.new_phone("p")
    with in_process_client(world.app, client=("203.0.113.9", 40000)) as http:
        stranger = PortalClient(http, credential=f"{phone.device_id}.{'0' * 64}")
        for _ in range(10):
            assert refused(stranger.nonce, "application").code == "unauthenticated"
        problem = refused(stranger.nonce, "application")
        assert (problem.status, problem.code) == (429, "rate-limited")
        # Even the right secret from the locked client waits out the lock...
        stranger.credential = phone.api.credential
        assert refused(stranger.nonce, "application").code == "rate-limited"
    # ...while the owner, on its own address, is not locked at all.
    assert phone.api.nonce("application")


def test_cycling_addresses_inside_one_ipv6_64_does_not_reset_the_count(world: World) -> None:
    phone = world.new_phone("p")
    wrong = f"{phone.device_id}.{'0' * 64}"
    for host in range(1, 11):
        with in_process_client(world.app, client=(f"2001:db8:0:1::{host:x}", 40000)) as http:
            assert refused(PortalClient(http, credential=wrong).nonce, "inquiry").status == 401
    with in_process_client(world.app, client=("2001:db8:0:1::ff", 40000)) as http:
        assert refused(PortalClient(http, credential=wrong).nonce, "inquiry").status == 429
    with in_process_client(world.app, client=("2001:db8:0:2::1", 40000)) as http:
        assert refused(PortalClient(http, credential=wrong).nonce, "inquiry").status == 401
    assert phone.api.nonce("inquiry")


def test_client_key() -> None:
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"
