"""The simulator on the real portal of a data directory: what ``mobile-jpki serve`` mounts.

Each browser session gets a world of its own, made through the same paths as production
(DESIGN.md: HTTP to the portal, APDUs to the card and the secure elements):

1. a fictitious resident, registered through the operator API;
2. a My Number Card, an emulated applet saved in the data directory as
   ``devices/cards/sim-<short>-card.state`` and personalised through APDUs by
   :func:`~mobile_jpki.phone.office.issue_card` (keys generated on the chip, certified by the
   portal's authority);
3. two phones, ``sim-<short>-old`` and ``sim-<short>-new`` (``devices/phones/``), enrolled
   with their secure-element attestation;
4. the old phone applies for both certificates and registers them (the real application,
   issuance job and registration proof) — the starting point of the user's document.

The person then walks the model change (①-⑬) on the new phone in the browser; the old phone
starts offline, and receives its deletion instruction when its network switch goes on
(「古いスマホをWiFi等でネットワークに接続することをお勧めします」). The operator panel's hotline
suspension and 異動 go through the operator API. Push reaches the simulated phones through the
portal's in-process channel (``PortalContext.inprocess``): the app lives in the same process as
the portal, so SSE would only add a socket to itself.

The phones' HTTP client is in-process into the served app (``phone/transport.py``): the
address ``serve`` listens on is not known to the app (``--host 0.0.0.0``, proxies), the
in-process transport needs none, and every request still goes through the portal's routes,
authentication and problem+json answers.

``MOBILE_JPKI_SIMULATOR=fake`` keeps the in-memory :class:`FakeWorld` instead (UI work).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets as pysecrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from mobile_jpki.applet.secrets import DEFAULT_KDF_ITERATIONS
from mobile_jpki.clock import Clock
from mobile_jpki.phone.app.portal_backend import PortalBackend, PortalOperator
from mobile_jpki.phone.client import OperatorClient, PortalClient
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import (
    DeviceExists,
    DeviceKind,
    create_card,
    create_phone,
    device_path,
)
from mobile_jpki.service.portal.operators import ROLE_OFFICE
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.web.simulator import BackendFactory, SimulatorWorld, fake_world_factory

log = logging.getLogger("mobile_jpki.web")

SIMULATOR_ENV = "MOBILE_JPKI_SIMULATOR"
READY_TOPIC = "registration-ready"

# The session's resident: fictitious, the basic four facts of the signing certificate.
RESIDENT: dict[str, object] = {
    "family_name": "試験",
    "given_name": "花子",
    "sex": "female",
    "date_of_birth": dt.date(1990, 4, 1),
    "address": "東京都千代田区紀尾井町一丁目三番",
    "prefecture_romaji": "Tokyo",
    "city_romaji": "Chiyoda-ku",
}


class SimulatorSetupError(Exception):
    """A session's world could not be made (the page shows ``str(self)``)."""


class _Inbox(Protocol):
    def drain(self, device_id: str) -> Sequence[Any]: ...


class _KeyMaker(Protocol):
    @property
    def manufacturer_roots(self) -> list[x509.Certificate]: ...

    def create_api_key(self, *, name: str, role: str, now: dt.datetime) -> tuple[str, str]: ...

    def close_sandbox_session(
        self,
        *,
        person_id: str | None,
        device_ids: Sequence[str],
        api_key_id: str | None,
        now: dt.datetime,
    ) -> list[int]: ...


class PortalHandle(Protocol):
    """What the simulator needs of the portal wiring (``api.portal.PortalContext``)."""

    @property
    def service(self) -> _KeyMaker: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def inprocess(self) -> _Inbox: ...

    def work_once(self) -> tuple[int, int]: ...


@dataclass(frozen=True)
class SessionSecrets:
    """The session's test passwords, shown on the page so a person knows what to type."""

    card_sign_password: str
    card_auth_pin: str
    old_phone_sign_password: str
    old_phone_auth_pin: str

    @classmethod
    def generate(cls, randbelow: Callable[[int], int] = pysecrets.randbelow) -> SessionSecrets:
        # 6-16 of A-Z/0-9 mixing letters and digits; PINs 4 digits (JPKI-FACTS "Passwords").
        return cls(
            f"CARD{randbelow(10**4):04d}",
            f"{randbelow(10**4):04d}",
            f"OLD{randbelow(10**4):04d}",
            f"{randbelow(10**4):04d}",
        )


@dataclass
class _Made:
    """What one session's world has made so far: what closing it must undo."""

    person_id: str | None = None
    api_key_id: str | None = None
    device_ids: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


class PortalWorldFactory:
    """A :data:`~mobile_jpki.web.simulator.BackendFactory` on a real portal: one call, one
    session's world (resident, card, two enrolled phones, the old one registered)."""

    def __init__(
        self,
        *,
        portal: PortalHandle,
        http: httpx.Client,
        data_dir: Path,
        card_instruction_key: ec.EllipticCurvePublicKey,
        ready_timeout: float = 30.0,
        kdf_iterations: int = DEFAULT_KDF_ITERATIONS,
        randbelow: Callable[[int], int] = pysecrets.randbelow,
    ) -> None:
        self.portal = portal
        self.http = http
        self.data_dir = data_dir
        self.card_instruction_key = card_instruction_key
        self.ready_timeout = ready_timeout
        self.kdf_iterations = kdf_iterations
        self.randbelow = randbelow

    @property
    def clock(self) -> Clock:
        return self.portal.clock

    def __call__(self) -> SimulatorWorld:
        made = _Made()
        try:
            return self._make(made)
        except Exception as exc:  # any layer: say what failed, never a 500 page
            # Half a world is still a world: what was made is closed like an expired one.
            self.close(made)
            if isinstance(exc, SimulatorSetupError):
                raise
            raise SimulatorSetupError(f"{type(exc).__name__}: {exc}") from exc

    def _make(self, made: _Made) -> SimulatorWorld:
        secrets = SessionSecrets.generate(self.randbelow)
        short, card_applet = self._new_card()
        made.files.append(device_path(self.data_dir, DeviceKind.CARD, f"sim-{short}-card"))
        # An office key of the session's own (the least role that registers residents and
        # cards, docs/portal.md "Operators"), revoked when the session ends.
        made.api_key_id, api_key = self.portal.service.create_api_key(
            name=f"simulator-session-{short}", role=ROLE_OFFICE, now=self.clock.now()
        )
        operator = OperatorClient(self.http, api_key)
        person_id = operator.register_person(**RESIDENT)
        made.person_id = person_id
        card = JpkiClient(InProcessConnection(card_applet))
        now = self.clock.now()
        issue_card(
            operator,
            PortalClient(self.http),
            card,
            person_id=person_id,
            expires_at=now + dt.timedelta(days=365 * 10),
            sign_password=secrets.card_sign_password,
            auth_pin=secrets.card_auth_pin,
            card_instruction_key=self.card_instruction_key,
        )
        old = self._phone(f"sim-{short}-old", made)
        new = self._phone(f"sim-{short}-new", made)
        old.apply(
            card,
            card_password=secrets.card_sign_password,
            certificates=(Hierarchy.SIGN, Hierarchy.AUTH),
            sign_password=secrets.old_phone_sign_password,
            auth_pin=secrets.old_phone_auth_pin,
        )
        self._register_when_ready(old, secrets)

        def card_reader() -> JpkiClient:
            return card

        def inbox(phone: ScriptedPhone) -> Callable[[], Sequence[Any]]:
            device_id = phone.device_id or ""
            return lambda: self.portal.inprocess.drain(device_id)

        info = {
            "card_sign_password": secrets.card_sign_password,
            "card_auth_pin": secrets.card_auth_pin,
            "old_phone_sign_password": secrets.old_phone_sign_password,
            "old_phone_auth_pin": secrets.old_phone_auth_pin,
            "card": f"sim-{short}-card",
            "old_phone": f"sim-{short}-old",
            "new_phone": f"sim-{short}-new",
            "person": person_id,
        }
        return SimulatorWorld(
            PortalBackend(old, card_reader, inbox(old)),
            PortalBackend(new, card_reader, inbox(new)),
            PortalOperator(operator, person_id, RESIDENT, self.clock),
            self.clock,
            info=info,
            # The document advises connecting the old phone; the person switches it on.
            online={"old": False, "new": True},
            close=lambda: self.close(made),
        )

    def close(self, made: _Made) -> list[int]:
        """End a session's world: every certificate of its person and phones revoked
        (cessationOfOperation) through the portal's CA, its phones retired, its API key
        revoked, its card and phone state files removed. Safe to call twice."""
        revoked: list[int] = []
        if made.person_id or made.device_ids or made.api_key_id:
            revoked = self.portal.service.close_sandbox_session(
                person_id=made.person_id,
                device_ids=made.device_ids,
                api_key_id=made.api_key_id,
                now=self.clock.now(),
            )
        for path in made.files:
            path.unlink(missing_ok=True)
        log.info("simulator session closed: %d certificates revoked", len(revoked))
        return revoked

    def _new_card(self) -> tuple[str, Any]:
        for _ in range(5):
            short = pysecrets.token_hex(3)
            try:
                applet = create_card(
                    self.data_dir,
                    f"sim-{short}-card",
                    clock=self.clock,
                    kdf_iterations=self.kdf_iterations,
                )
            except DeviceExists:
                continue
            return short, applet
        raise SimulatorSetupError("could not find a free simulator device id")

    def _phone(self, device_id: str, made: _Made) -> ScriptedPhone:
        applet = create_phone(
            self.data_dir, device_id, clock=self.clock, kdf_iterations=self.kdf_iterations
        )
        made.files.append(device_path(self.data_dir, DeviceKind.PHONE, device_id))
        clock = self.clock

        def sign(content: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
            return sign_cms(content, key, cert, signing_time=clock.now(), detached=False)

        phone = ScriptedPhone(
            api=PortalClient(self.http),
            element=JpkiClient(InProcessConnection(applet)),
            sign_document=sign,
            clock=self.clock,
        )
        phone.enrol(push_channel="inprocess")
        made.device_ids.append(phone.device_id or "")
        return phone

    def _register_when_ready(self, phone: ScriptedPhone, secrets: SessionSecrets) -> None:
        """Run the worker (a pass is safe beside ``serve``'s own loop: jobs are claimed in a
        transaction) until the issuance is done and its push delivered, then 登録する."""
        deadline = time.monotonic() + self.ready_timeout
        device_id = phone.device_id or ""
        pushed = False
        while True:
            self.portal.work_once()
            topics = phone.handle_push(self.portal.inprocess.drain(device_id))
            pushed = pushed or READY_TOPIC in topics
            if pushed:
                break
            if time.monotonic() > deadline:
                raise SimulatorSetupError("the old phone's certificates were not issued in time")
            time.sleep(0.1)
        phone.register(
            sign_password=secrets.old_phone_sign_password, auth_pin=secrets.old_phone_auth_pin
        )


def load_card_instruction_key(data_dir: Path, passphrase: bytes) -> ec.EllipticCurvePublicKey:
    """The municipal offices' key for card instructions, ``portal/card-issuer-key.pem`` (the
    one ``runtime.open_system`` uses), made on first use."""
    from mobile_jpki.service.keystore import load_or_create_ec_key

    return load_or_create_ec_key(
        data_dir / "portal" / "card-issuer-key.pem", passphrase
    ).public_key()


class PortalWorlds:
    """The simulator's world factory for ``app``: the real portal once one is installed on it
    (``app.state.portal``, as ``serve`` does), the in-memory FakeWorld otherwise or when
    ``MOBILE_JPKI_SIMULATOR=fake``. Decided per session, so mounting order does not matter;
    the in-process HTTP client (a helper thread) is closed by :meth:`close`, which
    :func:`portal_world_for` ties to the app's lifespan."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._factory: PortalWorldFactory | None = None
        self._lock = threading.Lock()

    def __call__(self) -> SimulatorWorld:
        portal = getattr(self.app.state, "portal", None)
        if portal is None or os.environ.get(SIMULATOR_ENV, "portal") == "fake":
            return fake_world_factory()
        with self._lock:
            if self._factory is None:
                from mobile_jpki.phone.transport import in_process_client

                settings = self.app.state.services.ca.settings
                data_dir = Path(settings.data_dir)
                self._factory = PortalWorldFactory(
                    portal=portal,
                    http=in_process_client(self.app, base_url=settings.base_url),
                    data_dir=data_dir,
                    card_instruction_key=load_card_instruction_key(
                        data_dir, settings.ca_passphrase()
                    ),
                )
            factory = self._factory
        return factory()

    def close(self) -> None:
        with self._lock:
            if self._factory is not None:
                self._factory.http.close()
                self._factory = None


def portal_world_for(app: FastAPI) -> BackendFactory:
    """Mount helper for ``api.app``: a :class:`PortalWorlds` closed when the app stops."""
    worlds = PortalWorlds(app)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            try:
                yield
            finally:
                worlds.close()

    app.router.lifespan_context = lifespan
    return worlds
