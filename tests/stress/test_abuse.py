"""Abuse over the HTTP API (in process): brute force ends in lockouts; replays, forged
attestations, other people's devices, operator calls without the right key and path tricks in
ids are refused with problem+json — and NOTHING changes (the audit log and the portal's tables
are compared before and after)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text

from mobile_jpki.applet import Manufacturer
from mobile_jpki.clock import SystemClock
from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.reader.errors import SecretBlocked, WrongSecret
from mobile_jpki.runtime import System, open_system

from .stress_harness import (
    BOTH,
    CARD_PASSWORD,
    PHONE_PASSWORD,
    PHONE_PIN,
    Deployment,
    Resident,
    audit_length,
    make_deployment,
    new_phone,
    new_resident,
)

TABLES = ("portal_person", "portal_card", "portal_device", "portal_application", "certificate")


@dataclass
class Abuse:
    dep: Deployment
    system: System
    http: httpx.Client
    resident: Resident
    holder: ScriptedPhone


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Abuse]:
    dep = make_deployment(tmp_path_factory.mktemp("abuse") / "data")
    system = open_system(dep.settings, SystemClock())
    try:
        with system.client() as http:
            resident = new_resident(dep, http, "abuse")
            holder = new_phone(dep, http, "abuse-holder")
            holder.apply(
                resident.card,
                card_password=CARD_PASSWORD,
                certificates=BOTH,
                sign_password=PHONE_PASSWORD,
                auth_pin=PHONE_PIN,
            )
            system.context.work_once()
            holder.register(sign_password=PHONE_PASSWORD, auth_pin=PHONE_PIN)
            yield Abuse(dep, system, http, resident, holder)
    finally:
        system.close()


def snapshot(w: Abuse) -> tuple[int, ...]:
    with w.system.ca.db.engine.connect() as conn:
        counts = [
            int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
            for t in TABLES
        ]
    return (*counts, audit_length(w.system.ca.db))


def assert_problem(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, object]:
    wanted = status if isinstance(status, tuple) else (status,)
    assert response.status_code in wanted, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == response.status_code
    assert body["code"]
    return body


def test_card_signing_password_five_wrong_then_even_the_right_one_is_refused(world: Abuse) -> None:
    w = world
    resident = new_resident(w.dep, w.http, "abuse-brute")
    for _ in range(4):
        with pytest.raises(WrongSecret):
            ScriptedPhone.card_signing_key(resident.card, "WRONG999")
    with pytest.raises((WrongSecret, SecretBlocked)):
        ScriptedPhone.card_signing_key(resident.card, "WRONG999")
    with pytest.raises(SecretBlocked):
        ScriptedPhone.card_signing_key(resident.card, CARD_PASSWORD)


def test_wrong_device_credentials_lock_the_device_with_retry_after(world: Abuse) -> None:
    w = world
    phone = new_phone(w.dep, w.http, "abuse-locked")
    assert phone.device_id is not None
    for _ in range(10):
        assert_problem(
            w.http.get(
                "/portal/v1/my-page", headers={"Authorization": f"Bearer {phone.device_id}.x"}
            ),
            401,
        )
    locked = w.http.get(
        "/portal/v1/my-page", headers={"Authorization": f"Bearer {phone.api.credential}"}
    )
    assert_problem(locked, 429)


def test_the_credential_lockout_says_when_to_retry(world: Abuse) -> None:
    w = world
    phone = new_phone(w.dep, w.http, "abuse-locked-2")
    for _ in range(10):
        w.http.get("/portal/v1/my-page", headers={"Authorization": f"Bearer {phone.device_id}.x"})
    locked = w.http.get(
        "/portal/v1/my-page", headers={"Authorization": f"Bearer {phone.api.credential}"}
    )
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0


def test_replayed_application_changes_nothing(world: Abuse) -> None:
    w = world
    phone = new_phone(w.dep, w.http, "abuse-replay")
    cms = phone.prepare_application(
        w.resident.card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password=PHONE_PASSWORD,
        auth_pin=PHONE_PIN,
        model_change=True,
        consent=True,
    )
    phone.send_application(cms)
    w.system.context.work_once()
    before = snapshot(w)
    with pytest.raises(PortalProblem) as refused:
        phone.send_application(cms)
    assert (refused.value.status, refused.value.code) == (409, "nonce-used")
    assert snapshot(w) == before
    w.holder = phone
    phone.register(sign_password=PHONE_PASSWORD, auth_pin=PHONE_PIN)


def test_forged_attestation_from_an_unknown_manufacturer_is_refused(world: Abuse) -> None:
    w = world
    rogue = Manufacturer.create(
        key=ec.generate_private_key(ec.SECP256R1()), now=SystemClock().now()
    )
    before = snapshot(w)
    with pytest.raises(PortalProblem) as refused:
        new_phone(w.dep, w.http, "abuse-rogue", manufacturer=rogue)
    assert 400 <= refused.value.status < 500
    assert snapshot(w) == before


def test_device_a_cannot_send_device_b_application(world: Abuse) -> None:
    w = world
    a = new_phone(w.dep, w.http, "abuse-a")
    b = new_phone(w.dep, w.http, "abuse-b")
    cms = b.prepare_application(
        w.resident.card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password=PHONE_PASSWORD,
        auth_pin=PHONE_PIN,
        model_change=True,
        consent=True,
    )
    before = snapshot(w)
    answer = w.http.post(
        "/portal/v1/applications",
        json={"cms": base64.b64encode(cms).decode("ascii")},
        headers={"Authorization": f"Bearer {a.api.credential}"},
    )
    assert assert_problem(answer, 403)["code"] == "device-mismatch"
    assert snapshot(w) == before


@pytest.mark.parametrize("who", ["nobody", "device"])
def test_operator_calls_need_an_operator_key(world: Abuse, who: str) -> None:
    w = world
    headers = {} if who == "nobody" else {"Authorization": f"Bearer {w.holder.api.credential}"}
    before = snapshot(w)
    body = {"family_name": "x", "given_name": "y", "sex": "female",
            "date_of_birth": "1990-04-01", "address": "z",
            "prefecture_romaji": "Tokyo", "city_romaji": "Chiyoda-ku"}  # fmt: skip
    assert_problem(w.http.post("/operator/v1/persons", json=body, headers=headers), (401, 403))
    hold = f"/operator/v1/persons/{w.resident.person_id}/phone-hold"
    assert_problem(w.http.post(hold, headers=headers), (401, 403))
    assert snapshot(w) == before


@pytest.mark.parametrize(
    "evil", ["..%2F..%2Fsettings.json", "%2e%2e", "..", "%2Fetc%2Fpasswd", "a%00b", "%00"]
)
def test_path_tricks_in_ids_are_refused(world: Abuse, evil: str) -> None:
    w = world
    office = {"Authorization": f"Bearer {w.dep.office_key}"}
    device = {"Authorization": f"Bearer {w.holder.api.credential}"}
    before = snapshot(w)
    for method, path, headers in [
        ("POST", f"/operator/v1/persons/{evil}/phone-hold", office),
        ("POST", f"/operator/v1/cards/{evil}/replace", office),
        ("POST", f"/portal/v1/instructions/{evil}/ack", device),
        ("POST", f"/portal/v1/registrations/{evil}", device),
    ]:
        answer = w.http.request(method, path, headers=headers, json={"signature": "AA=="})
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
    assert snapshot(w) == before
