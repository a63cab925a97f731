"""The invariants, on SQLite and PostgreSQL: one phone per person at every instant (also in the
database itself), a revocation acknowledged is answered by OCSP at once, two concurrent model
changes leave exactly one winner, a replayed application is refused."""

from __future__ import annotations

import base64
import datetime as dt
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from portal_world import CARD_PASSWORD, World
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.store.portal import Device

BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)


def registered_phone(world: World, card: object, name: str = "old") -> ScriptedPhone:
    phone = world.new_phone(name)
    phone.apply(
        card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password="PHONE123",
        auth_pin="1234",
    )  # type: ignore[arg-type]
    world.work()
    phone.register(sign_password="PHONE123", auth_pin="1234")
    return phone


def ocsp_status(world: World, cert: x509.Certificate, hierarchy: Hierarchy) -> ocsp.OCSPResponse:
    issuer = next(c.certificate for c in world.ca.cas() if c.hierarchy is hierarchy and c.active)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303 (RFC 5019 CertID)
    from cryptography.hazmat.primitives.serialization import Encoding

    answer = world.http.post(
        f"/ocsp/{hierarchy.value}",
        content=request.public_bytes(Encoding.DER),
        headers={"Content-Type": "application/ocsp-request"},
    )
    assert answer.status_code == 200
    return ocsp.load_der_ocsp_response(answer.content)


def test_revocation_by_model_change_is_answered_by_ocsp_at_once(world: World) -> None:
    _, _, card = world.resident()
    old = registered_phone(world, card)
    old.element.select_ap()
    old.element.verify(Hierarchy.AUTH, "1234")
    old_auth = old.element.read_certificate(Hierarchy.AUTH)
    assert (
        ocsp_status(world, old_auth, Hierarchy.AUTH).certificate_status is ocsp.OCSPCertStatus.GOOD
    )
    new = world.new_phone("new")
    new.apply(
        card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password="PHONE456",
        auth_pin="5678",
        model_change=True,
        consent=True,
    )
    world.work()
    # No CRL run, no cache wait: the pre-signed answer was replaced in the same transaction.
    answer = ocsp_status(world, old_auth, Hierarchy.AUTH)
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason is x509.ReasonFlags.superseded


def test_a_replayed_application_is_refused(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    cms = phone.prepare_application(
        card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password="PHONE123",
        auth_pin="1234",
    )
    phone.send_application(cms)
    with pytest.raises(PortalProblem) as refused:
        phone.send_application(cms)
    assert (refused.value.status, refused.value.code) == (409, "nonce-used")
    world.work()
    with pytest.raises(PortalProblem) as again:
        phone.send_application(cms)
    assert again.value.code == "nonce-used"
    assert refused.value.body["type"] == "urn:mobile-jpki:problem:nonce-used"


def test_two_concurrent_model_changes_one_wins_the_other_conflicts(world: World) -> None:
    person, _, card = world.resident()
    registered_phone(world, card)
    a, b = world.new_phone("a"), world.new_phone("b")
    signed = {
        name: phone.prepare_application(
            card,
            card_password=CARD_PASSWORD,
            certificates=BOTH,
            sign_password="PHONE789",
            auth_pin="9999",
            model_change=True,
            consent=True,
        )
        for name, phone in (("a", a), ("b", b))
    }
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def send(name: str, phone: ScriptedPhone) -> None:
        barrier.wait()
        try:
            outcomes[name] = phone.send_application(signed[name])
        except PortalProblem as problem:
            outcomes[name] = problem

    threads = [threading.Thread(target=send, args=(n, p)) for n, p in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    problems = [o for o in outcomes.values() if isinstance(o, PortalProblem)]
    assert len(problems) == 1 and len(outcomes) == 2
    assert (problems[0].status, problems[0].code) == (409, "application-in-progress")
    world.work()
    winner = a if isinstance(outcomes["a"], str) else b
    assert world.service.holders(person) == [winner.device_id]


def test_the_database_itself_refuses_a_second_holder(world: World) -> None:
    person, _, card = world.resident()
    registered_phone(world, card)
    other = world.new_phone("other")
    with pytest.raises(IntegrityError), world.db.transaction() as s:
        s.execute(
            update(Device).where(Device.id == other.device_id).values(person_id=person, holder=True)
        )


def test_at_no_instant_two_devices_hold_unrevoked_phone_certificates(world: World) -> None:
    person, _, card = world.resident()
    phones = [registered_phone(world, card, "p0")]
    for i in range(1, 4):
        phone = world.new_phone(f"p{i}")
        phone.apply(
            card,
            card_password=CARD_PASSWORD,
            certificates=BOTH if i % 2 else (Hierarchy.SIGN,),
            sign_password="PHONE123",
            auth_pin="1234",
            model_change=True,
            consent=True,
        )
        assert len(world.service.holders(person)) == 1  # before the job: still the old one
        world.work()
        assert world.service.holders(person) == [phone.device_id]
        phones.append(phone)


def test_pushed_registration_ready_is_idempotent_on_the_phone(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    phone.apply(
        card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password="PHONE123",
        auth_pin="1234",
    )
    world.work()
    assert phone.device_id is not None
    delivered = world.ctx.inprocess.inbox(phone.device_id)
    assert phone.handle_push(delivered) == ["registration-ready"]
    assert phone.handle_push(delivered) == []  # redelivery (at least once): no-op
    assert base64.b64decode(phone.api.registrations()[0]["certificate"])


def test_model_change_when_the_ocsp_responder_is_due_for_rollover(world: World) -> None:
    """The CA rolls its responder over in a write transaction of its own; the portal lets it
    happen before taking the (SQLite: single) write lock, instead of waiting on itself."""
    person, _, card = world.resident()
    registered_phone(world, card)
    world.clock.advance(dt.timedelta(days=80))  # responders: 90 days, rolled 14 days before
    new = world.new_phone("new")
    new.apply(
        card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password="PHONE456",
        auth_pin="5678",
        model_change=True,
        consent=True,
    )
    assert world.work()[0] == 1
    assert world.service.holders(person) == [new.device_id]
