"""The portal under test: a real CA (pooled RSA keys), the portal service and its HTTP API on
SQLite (always) and PostgreSQL (marker ``postgres``), an emulated card and phones reached only
through APDUs, and a scripted app talking HTTP through Starlette's TestClient.

A uniquely named module rather than ``from conftest import``: several test directories have a
conftest.py, and only one of them can be the module named ``conftest`` in one run. conftest.py
imports the fixtures from here."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from sqlalchemy import text

from mobile_jpki.api.app import create_app
from mobile_jpki.api.portal import PortalContext, install
from mobile_jpki.applet import Manufacturer
from mobile_jpki.applet.factory import new_card, new_secure_element
from mobile_jpki.applet.state import MemoryStateStore
from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.client import OperatorClient, PortalClient
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.portal.cms import CmsDocumentVerifier, cms_document_signer
from mobile_jpki.service.portal.service import PortalConfig, PortalService
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database

START = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
CARD_PASSWORD = "CARD1234"
CARD_PIN = "1234"
_POOL = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(20)]
_KEYS: Iterator[rsa.RSAPrivateKey] = itertools.cycle(_POOL)
_SERIALS = itertools.count(1)


def pooled_key() -> rsa.RSAPrivateKey:
    return next(_KEYS)


class PooledKeyStore:
    """In-memory CA KeyStore over the pool (the CA engineer's fake, re-made here: tests of
    another package are not importable)."""

    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        key = pooled_key()
        self._keys[f"mem:{name}"] = key
        return key, f"mem:{name}"

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        return self._keys[key_ref]


def _serial() -> bytes:
    return next(_SERIALS).to_bytes(4, "big") + os.urandom(12)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'portal.db'}")
    else:
        url = os.environ.get("MOBILE_JPKI_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("MOBILE_JPKI_TEST_POSTGRES_URL not set")
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.migrate()
    yield db
    db.dispose()


@dataclass
class World:
    db: Database
    clock: FixedClock
    ca: CertificateAuthority
    service: PortalService
    ctx: PortalContext
    app: FastAPI
    http: httpx.Client
    manufacturer: Manufacturer
    operator: OperatorClient
    hotline: OperatorClient
    card_issuer_key: ec.EllipticCurvePrivateKey
    phones: dict[str, ScriptedPhone] = field(default_factory=dict)

    def work(self) -> tuple[int, int]:
        """The worker loop's one pass (jobs, then push delivery)."""
        return self.ctx.work_once()

    def new_card_applet(self) -> JpkiClient:
        applet = new_card(
            _serial(),
            MemoryStateStore(),
            clock=self.clock,
            key_factory=pooled_key,
            kdf_iterations=10,
        )
        return JpkiClient(InProcessConnection(applet))

    def new_phone(
        self, name: str, *, push_channel: str = "inprocess", enrol: bool = True
    ) -> ScriptedPhone:
        serial = _serial()
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
        phone = ScriptedPhone(
            api=PortalClient(self.http),
            element=JpkiClient(InProcessConnection(applet)),
            sign_document=cms_document_signer(self.clock),
            clock=self.clock,
        )
        if enrol:
            phone.enrol(push_channel=push_channel)
        self.phones[name] = phone
        return phone

    def resident(self, *, born: dt.date = dt.date(1990, 4, 1)) -> tuple[str, str, JpkiClient]:
        """A person with a personalised card: (person_id, card_id, card client)."""
        person_id = self.operator.register_person(**facts(born=born))
        card = self.new_card_applet()
        card_id, _ = issue_card(
            self.operator,
            PortalClient(self.http),
            card,
            person_id=person_id,
            expires_at=self.clock.now() + dt.timedelta(days=3650),
            sign_password=CARD_PASSWORD,
            auth_pin=CARD_PIN,
            card_instruction_key=self.card_issuer_key.public_key(),
        )
        return person_id, card_id, card

    def apply_for_auth(self, phone: ScriptedPhone, card: JpkiClient) -> None:
        """``phone`` applies for the user-authentication certificate alone, signed with
        ``card`` (the shortest application: no signing password rules, no age check)."""
        phone.apply(
            card,
            card_password=CARD_PASSWORD,
            certificates=(Hierarchy.AUTH,),
            sign_password="PHONE123",
            auth_pin="1234",
        )

    def inbox(self, phone: ScriptedPhone) -> list[str]:
        """Topics newly pushed to ``phone`` (in-process channel, de-duplicated by the app)."""
        assert phone.device_id is not None
        self.ctx.dispatcher.dispatch(now=self.clock.now())
        return phone.handle_push(self.ctx.inprocess.drain(phone.device_id))


def facts(
    *, born: dt.date = dt.date(1990, 4, 1), address: str = "東京都千代田区永田町一丁目"
) -> dict[str, object]:
    return {
        "family_name": "デジタル",
        "given_name": "花子",
        "sex": "female",
        "date_of_birth": born,
        "address": address,
        "prefecture_romaji": "Tokyo",
        "city_romaji": "Chiyoda-ku",
    }


@contextmanager
def open_world(database: Database, data_dir: Path) -> Iterator[World]:
    """A World over a migrated ``database``, its CA files under ``data_dir``: the ``world``
    fixture's body, callable where fixtures are not (the lifecycle state machine)."""
    clock = FixedClock(START)
    settings = Settings(data_dir=data_dir, shard_count=4)
    ca = CertificateAuthority(database, settings, PooledKeyStore())
    ca.init_hierarchies(clock.now())
    manufacturer = Manufacturer.create(key=ec.generate_private_key(ec.SECP256R1()), now=clock.now())
    service = PortalService(
        database,
        authority=ca,
        verifier=CmsDocumentVerifier(),
        instruction_key=ec.generate_private_key(ec.SECP256R1()),
        manufacturer_roots=[manufacturer.root],
        config=PortalConfig(),
    )
    ctx = PortalContext(service=service, clock=clock)
    app = create_app(ca, clock=clock)
    install(app, ctx)
    _, api_key = service.create_api_key(name="office-1", role="office", now=clock.now())
    _, hotline_key = service.create_api_key(name="hotline-1", role="hotline", now=clock.now())
    with in_process_client(app) as http:
        yield World(
            db=database,
            clock=clock,
            ca=ca,
            service=service,
            ctx=ctx,
            app=app,
            http=http,
            manufacturer=manufacturer,
            operator=OperatorClient(http, api_key),
            hotline=OperatorClient(http, hotline_key),
            card_issuer_key=ec.generate_private_key(ec.SECP256R1()),
        )


@pytest.fixture
def world(database: Database, tmp_path: Path) -> Iterator[World]:
    with open_world(database, tmp_path) as opened:
        yield opened
