"""The app on the real thing: PortalBackend over the portal API (in process), an emulated card
and secure elements reached only through APDUs. The user's document's model change, end to end."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mobile_jpki.api.app import create_app
from mobile_jpki.api.portal import PortalContext, install
from mobile_jpki.applet import Manufacturer
from mobile_jpki.applet.factory import new_card, new_secure_element
from mobile_jpki.applet.state import MemoryStateStore
from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.app.backend import AppCertStatus, Validity
from mobile_jpki.phone.app.events import ComeOnline, Press, TapCard, Toggle, TypeText
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.portal_backend import PortalBackend
from mobile_jpki.phone.app.screens import Screen, ScreenId
from mobile_jpki.phone.client import OperatorClient, PortalClient
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.errors import ApduError
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.portal.errors import SignatureInvalid
from mobile_jpki.service.portal.ports import SignedDocument
from mobile_jpki.service.portal.service import PortalConfig, PortalService
from mobile_jpki.settings import Settings
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.store.db import Database
from mobile_jpki.verify.certificate import TrustAnchors, Usage
from mobile_jpki.verify.cms import verify_cms

CARD_PASSWORD = "CARD1234"
_POOL = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(10)]
_KEYS = itertools.cycle(_POOL)


def pooled_key() -> rsa.RSAPrivateKey:
    return next(_KEYS)


class _KeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        key = pooled_key()
        self._keys[f"mem:{name}"] = key
        return key, f"mem:{name}"

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        return self._keys[key_ref]


class _Verifier:
    """The portal's DocumentVerifier on the relying-party kit (as runtime wiring does)."""

    def __init__(self, roots: list[x509.Certificate], clock: FixedClock) -> None:
        self.anchors = TrustAnchors(tuple(roots))
        self.clock = clock

    def verify(self, cms_der: bytes) -> SignedDocument:
        verdict = verify_cms(
            None, cms_der, anchors=self.anchors, now=self.clock.now(), usage=Usage.SIGNING
        )
        if verdict.signer is None or verdict.problems:
            raise SignatureInvalid("; ".join(str(p) for p in verdict.problems) or "no signer")
        return SignedDocument(content=verdict.content, signer=verdict.signer)


@dataclass
class Portal:
    clock: FixedClock
    ctx: PortalContext
    http: object
    manufacturer: Manufacturer
    card: JpkiClient
    operator: OperatorClient
    card_id: str

    def phone(self) -> tuple[PhoneApp, PortalBackend]:
        serial = os.urandom(16)
        attestation_key = ec.generate_private_key(ec.SECP256R1())
        cert = self.manufacturer.attest(
            element_key=attestation_key.public_key(), serial=serial, now=self.clock.now()
        )
        applet = new_secure_element(
            serial,
            MemoryStateStore(),
            attestation_key,
            cert,
            clock=self.clock,
            key_factory=pooled_key,
            kdf_iterations=10,
        )
        clock = self.clock

        def sign(content: bytes, key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> bytes:
            return sign_cms(content, key, certificate, signing_time=clock.now(), detached=False)

        phone = ScriptedPhone(
            api=PortalClient(self.http),  # type: ignore[arg-type]
            element=JpkiClient(InProcessConnection(applet)),
            sign_document=sign,
            clock=self.clock,
        )
        device_id = phone.enrol(push_channel="inprocess")
        backend = PortalBackend(
            phone, card=lambda: self.card, inbox=lambda: self.ctx.inprocess.drain(device_id)
        )
        return PhoneApp(backend, self.clock), backend

    def work(self) -> None:
        self.ctx.work_once()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    clock = FixedClock(dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC))
    db = Database(f"sqlite:///{tmp_path / 'portal.db'}")
    db.migrate()
    ca = CertificateAuthority(db, Settings(data_dir=tmp_path, shard_count=2), _KeyStore())
    ca.init_hierarchies(clock.now())
    manufacturer = Manufacturer.create(key=ec.generate_private_key(ec.SECP256R1()), now=clock.now())
    service = PortalService(
        db,
        authority=ca,
        verifier=_Verifier([s.certificate for s in ca.cas()], clock),
        instruction_key=ec.generate_private_key(ec.SECP256R1()),
        manufacturer_roots=[manufacturer.root],
        config=PortalConfig(),
    )
    ctx = PortalContext(service=service, clock=clock)
    app = create_app(ca, clock=clock)
    install(app, ctx)
    _, api_key = service.create_api_key(name="office-1", role="office", now=clock.now())
    with in_process_client(app) as http:
        operator = OperatorClient(http, api_key)
        person_id = operator.register_person(
            family_name="デジタル",
            given_name="花子",
            sex="female",
            date_of_birth=dt.date(1990, 4, 1),
            address="東京都千代田区永田町一丁目",
            prefecture_romaji="Tokyo",
            city_romaji="Chiyoda-ku",
        )
        card = JpkiClient(
            InProcessConnection(
                new_card(
                    os.urandom(16),
                    MemoryStateStore(),
                    clock=clock,
                    key_factory=pooled_key,
                    kdf_iterations=10,
                )
            )
        )
        card_id, _ = issue_card(
            operator,
            PortalClient(http),
            card,
            person_id=person_id,
            expires_at=clock.now() + dt.timedelta(days=3650),
            sign_password=CARD_PASSWORD,
            auth_pin="1234",
            card_instruction_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        )
        yield Portal(clock, ctx, http, manufacturer, card, operator, card_id)
    db.dispose()


def apply(app: PhoneApp, portal: Portal, menu: str, *, agree: bool) -> Screen:
    app.dispatch(Press("my_page"))
    app.dispatch(Press(menu))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD.lower()))
    app.dispatch(Toggle("confirmed"))
    assert app.dispatch(Press("apply")).id is ScreenId.CARD_READ
    screen = app.dispatch(TapCard())
    assert screen.message is None, screen.message
    assert (screen.dialog is not None) is agree
    if agree:
        screen = app.dispatch(Press("agree_next"))
    for value in ("PHONE123", "2468"):
        assert screen.id is ScreenId.NEW_PASSWORD, screen.message
        app.dispatch(TypeText("new_password", value))
        app.dispatch(TypeText("new_password_again", value))
        screen = app.dispatch(Press("next"))
    assert screen.id is ScreenId.APPLY_DONE, screen.message
    portal.work()  # the service issues and pushes 登録準備完了
    screen = app.poll()
    assert screen.banner is not None
    screen = app.dispatch(Press("to_my_page"))
    assert screen.button("register") is not None
    app.dispatch(Press("register"))
    screen = app.dispatch(Press("register"))
    assert screen.id is ScreenId.REGISTER_DONE, screen.message
    return screen


def test_model_change_through_the_portal(portal: Portal) -> None:
    old, old_backend = portal.phone()
    apply(old, portal, "menu_apply", agree=False)
    assert old_backend.my_page().sign is AppCertStatus.REGISTERED

    new, new_backend = portal.phone()
    apply(new, portal, "model_change", agree=True)
    page = new_backend.my_page()
    assert (page.sign, page.auth) == (AppCertStatus.REGISTERED, AppCertStatus.REGISTERED)
    check = new_backend.self_check("PHONE123", "2468")
    assert (check.sign, check.auth) == (Validity.GOOD, Validity.GOOD)

    portal.clock.advance(dt.timedelta(hours=47))
    screen = old.dispatch(ComeOnline())
    assert screen.id is ScreenId.OLD_PHONE_NOTICE, screen.message
    assert screen.body[0].text_id == "old_phone_deleted"  # type: ignore[union-attr]
    assert old_backend.my_page().sign is AppCertStatus.REVOKED
    element = old_backend.phone.element
    element.select_ap()
    with pytest.raises(ApduError):  # gone from the secure element
        element.read_certificate(Hierarchy.SIGN)


def test_old_phone_back_after_48_hours_keeps_them_revoked_and_is_told_once(
    portal: Portal,
) -> None:
    old, old_backend = portal.phone()
    apply(old, portal, "menu_apply", agree=False)
    new, _ = portal.phone()
    apply(new, portal, "model_change", agree=True)

    portal.clock.advance(dt.timedelta(hours=49))
    screen = old.dispatch(ComeOnline())
    assert screen.id is ScreenId.OLD_PHONE_NOTICE, screen.message
    assert screen.body[0].text_id == "old_phone_kept"  # type: ignore[union-attr]
    element = old_backend.phone.element
    element.select_ap()
    assert element.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: True}  # kept
    assert old_backend.my_page().sign is AppCertStatus.REVOKED
    assert old.dispatch(Press("ok")).id is ScreenId.MY_PAGE
    for _ in range(3):  # the simulator's poll: once a second
        assert old.dispatch(ComeOnline()).id is ScreenId.MY_PAGE
    restarted = PhoneApp(old_backend, portal.clock)  # the phone's memory survives a restart
    assert restarted.dispatch(ComeOnline()).id is ScreenId.HOME


def test_model_change_back_and_forth(portal: Portal) -> None:
    a, a_backend = portal.phone()
    apply(a, portal, "menu_apply", agree=False)
    b, b_backend = portal.phone()
    apply(b, portal, "model_change", agree=True)
    portal.clock.advance(dt.timedelta(hours=49))  # a was offline: it keeps them, revoked
    assert a.dispatch(ComeOnline()).body[0].text_id == "old_phone_kept"  # type: ignore[union-attr]
    a.dispatch(Press("ok"))

    apply(a, portal, "model_change", agree=True)  # back to a
    portal.clock.advance(dt.timedelta(hours=1))
    screen = b.dispatch(ComeOnline())
    assert screen.body[0].text_id == "old_phone_deleted"  # type: ignore[union-attr]
    assert a.dispatch(ComeOnline()).id is not ScreenId.OLD_PHONE_NOTICE  # nothing stale
    page = a_backend.my_page()
    assert (page.sign, page.auth) == (AppCertStatus.REGISTERED, AppCertStatus.REGISTERED)

    b.dispatch(Press("ok"))
    apply(b, portal, "model_change", agree=True)  # and forth: a offline past 48 hours again
    portal.clock.advance(dt.timedelta(hours=48, seconds=1))
    assert a.dispatch(ComeOnline()).body[0].text_id == "old_phone_kept"  # type: ignore[union-attr]
    assert b_backend.self_check("PHONE123", "2468").sign is Validity.GOOD


def test_wrong_card_password_is_a_message_with_tries_left(portal: Portal) -> None:
    app, _ = portal.phone()
    app.dispatch(Press("my_page"))
    app.dispatch(Press("menu_apply"))
    app.dispatch(TypeText("card_sign_password", "WRONG123"))
    app.dispatch(Toggle("confirmed"))
    app.dispatch(Press("apply"))
    screen = app.dispatch(TapCard())
    assert screen.id is ScreenId.APPLY_FORM
    assert screen.message is not None and screen.message.code.value == "wrong-card-secret"
    assert dict(screen.message.params) == {"tries_left": "4"}


def test_quit_on_the_dialog_leaves_the_old_phone_alone(portal: Portal) -> None:
    old, old_backend = portal.phone()
    apply(old, portal, "menu_apply", agree=False)
    new, new_backend = portal.phone()
    new.dispatch(Press("my_page"))
    new.dispatch(Press("model_change"))
    new.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    new.dispatch(Toggle("confirmed"))
    new.dispatch(Press("apply"))
    assert new.dispatch(TapCard()).dialog is not None
    assert new.dispatch(Press("quit")).id is ScreenId.MY_PAGE
    portal.work()
    assert old_backend.my_page().sign is AppCertStatus.REGISTERED
    assert new_backend.my_page().sign is AppCertStatus.NONE


def test_one_certificate_asks_one_password_and_leaves_the_other_secret_unset(
    portal: Portal,
) -> None:
    """Seed ⑤ and ⑩: untick 利用者証明用, set only the signing password; the element activates
    with it (docs/apdu.md "Lifecycle") and the auth PIN is never invented. Applying later for
    the user-authentication certificate sets its PIN then (CHANGE REFERENCE DATA P1 01)."""
    app, backend = portal.phone()
    app.dispatch(Press("my_page"))
    app.dispatch(Press("menu_apply"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Toggle("cert_auth"))  # untick
    app.dispatch(Toggle("confirmed"))
    app.dispatch(Press("apply"))
    screen = app.dispatch(TapCard())
    assert screen.id is ScreenId.NEW_PASSWORD, screen.message
    app.dispatch(TypeText("new_password", "PHONE123"))
    app.dispatch(TypeText("new_password_again", "PHONE123"))
    screen = app.dispatch(Press("next"))
    assert screen.id is ScreenId.APPLY_DONE, screen.message  # one password screen only
    portal.work()
    app.poll()
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("register"))
    screen = app.dispatch(Press("register"))
    assert screen.id is ScreenId.REGISTER_DONE, screen.message
    page = backend.my_page()
    assert (page.sign, page.auth) == (AppCertStatus.REGISTERED, AppCertStatus.NONE)
    element = backend.phone.element
    element.select_ap()
    assert element.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: False}
    # VERIFY status of a secret never set answers 69 84 (nothing to compare); that it was
    # never set is proven below, where CHANGE REFERENCE DATA sets it without a VERIFY.
    assert element.tries_left(Hierarchy.AUTH) == 0

    # Later: the user-authentication certificate alone, on the operational element.
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("menu_apply"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Toggle("cert_sign"))
    app.dispatch(Toggle("confirmed"))
    app.dispatch(Press("apply"))
    screen = app.dispatch(TapCard())
    assert screen.id is ScreenId.NEW_PASSWORD, screen.message
    app.dispatch(TypeText("new_password", "2468"))
    app.dispatch(TypeText("new_password_again", "2468"))
    assert app.dispatch(Press("next")).id is ScreenId.APPLY_DONE
    portal.work()
    app.poll()
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("register"))
    assert app.dispatch(Press("register")).id is ScreenId.REGISTER_DONE
    page = backend.my_page()
    assert (page.sign, page.auth) == (AppCertStatus.REGISTERED, AppCertStatus.REGISTERED)
    element.select_ap()
    element.verify(Hierarchy.AUTH, "2468")
    element.verify(Hierarchy.SIGN, "PHONE123")
