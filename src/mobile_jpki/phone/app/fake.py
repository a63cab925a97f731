"""An in-tree, deterministic world for the app: one person, one card, any number of phones.

:class:`FakeWorld` plays the portal, the CA, the card and the secure elements at once, with the
JPKI-FACTS rules that the app can observe: one phone per person (a model change revokes the old
phone's certificates and leaves a 48-hour delete instruction), try counters on every secret,
hotline suspension and its release (signing certificate re-issued), 異動 revoking signing
certificates. Every call is recorded in :attr:`FakeWorld.calls` so tests can prove what the app
did NOT ask for (「やめる」 changes nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from mobile_jpki.clock import Clock, ClockNotMovable, FixedClock, advance_clock
from mobile_jpki.lifecycle import ReleaseStep, release_plan, revocation_secret
from mobile_jpki.phone.app.backend import (
    CONSENT_REQUIRED,
    AppCertStatus,
    AppInstruction,
    ApplicationDraft,
    AuthHolder,
    AuthRequest,
    CardTicket,
    IncorrectSecret,
    InstructionKind,
    MyPageView,
    NewSecrets,
    PushKind,
    PushNotice,
    Rejected,
    ReleaseDraft,
    SecretKind,
    SecretLocked,
    SelfCheck,
    Unavailable,
    Validity,
)
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind
from mobile_jpki.protocol.instructions import InstructionReason

DELETE_WINDOW = dt.timedelta(hours=48)  # JPKI-FACTS "One phone per person"
_TRIES = {
    SecretKind.CARD_SIGN: 5,
    SecretKind.CARD_AUTH: 3,
    SecretKind.PHONE_SIGN: 5,
    SecretKind.PHONE_AUTH: 3,
}
_BOTH = frozenset({Hierarchy.SIGN, Hierarchy.AUTH})


@dataclass
class _Secret:
    kind: SecretKind
    value: str
    tries_left: int

    def check(self, given: str) -> None:
        if self.tries_left == 0:
            raise SecretLocked(self.kind)
        if given != self.value:
            self.tries_left -= 1
            if self.tries_left == 0:
                raise SecretLocked(self.kind)
            raise IncorrectSecret(self.kind, self.tries_left)
        self.tries_left = _TRIES[self.kind]  # a correct entry resets the counter


@dataclass
class FakeAuthRequest:
    """A relying party's request in the FakeWorld (:meth:`FakeWorld.add_auth_request`)."""

    request: AuthRequest
    redirect_uri: str
    state: str
    answer: str | None = None  # "approved" or "denied" once answered


@dataclass
class FakeDevice:
    device_id: str
    status: dict[Hierarchy, AppCertStatus] = field(
        default_factory=lambda: {
            Hierarchy.SIGN: AppCertStatus.NONE,
            Hierarchy.AUTH: AppCertStatus.NONE,
        }
    )
    push_enabled: bool = True
    online: bool = True
    biometrics: bool = False
    sign_password: _Secret | None = None
    auth_pin: _Secret | None = None
    pushes: list[PushNotice] = field(default_factory=list)
    instructions: list[AppInstruction] = field(default_factory=list)
    # The phone's own storage: notices the person dismissed (AppBackend.notice_shown).
    seen_notices: set[str] = field(default_factory=set)

    def holds(self) -> frozenset[Hierarchy]:
        """Certificates the service counts as on this device (not deleted, not revoked)."""
        live = {
            AppCertStatus.APPLIED,
            AppCertStatus.READY,
            AppCertStatus.REGISTERED,
            AppCertStatus.SUSPENDED,
        }
        return frozenset(h for h, s in self.status.items() if s in live)


class FakeWorld:
    """The whole outside world of the app, deterministic and in memory."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        card_sign_password: str = "ABC123",  # noqa: S107 - the fake card's test secret
        card_auth_pin: str = "1234",
        under_15: bool = False,
    ) -> None:
        self.clock: Clock = clock or FixedClock(dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC))
        self.card_sign = _Secret(SecretKind.CARD_SIGN, card_sign_password, 5)
        self.card_auth = _Secret(SecretKind.CARD_AUTH, card_auth_pin, 3)
        self.under_15 = under_15
        self.devices: dict[str, FakeDevice] = {}
        self.calls: list[tuple[str, str]] = []  # (device_id, method)
        self._serial = 0
        #: デジタル認証アプリ requests by the URL that opens them (:meth:`add_auth_request`).
        self.auth_requests: dict[str, FakeAuthRequest] = {}

    # --- set-up helpers -----------------------------------------------------------------------
    def device(self, device_id: str) -> FakeDevice:
        return self.devices.setdefault(device_id, FakeDevice(device_id))

    def give_registered_certificates(
        self,
        device_id: str,
        *,
        sign_password: str = "OLD123",  # noqa: S107 - the fake old phone's test secret
        auth_pin: str = "5678",
    ) -> FakeDevice:
        """Put a phone in the state "both certificates registered" (e.g. the old phone)."""
        dev = self.device(device_id)
        dev.status = {
            Hierarchy.SIGN: AppCertStatus.REGISTERED,
            Hierarchy.AUTH: AppCertStatus.REGISTERED,
        }
        dev.sign_password = _Secret(SecretKind.PHONE_SIGN, sign_password, 5)
        dev.auth_pin = _Secret(SecretKind.PHONE_AUTH, auth_pin, 3)
        return dev

    def replace_card(self) -> None:
        """The office renews or replaces the My Number Card (what the portal's
        ``replace_card`` does, service/portal/registry.py): every phone of the person has its
        certificates revoked and a 48-hour deletion naming the card as the cause."""
        self.calls.append(("operator", "replace_card"))
        now = self.clock.now()
        for dev in self.devices.values():
            held = dev.holds()
            if not held:
                continue
            for h in held:
                dev.status[h] = AppCertStatus.REVOKED
            dev.instructions.append(
                AppInstruction(
                    self._next_id("instr"),
                    InstructionKind.DELETE,
                    held,
                    now,
                    now + DELETE_WINDOW,
                    InstructionReason.CARD_REPLACED,
                )
            )

    def add_auth_request(
        self,
        url: str,
        *,
        client_name: str = "Example RP",
        scopes: tuple[str, ...] = ("openid",),
        redirect_uri: str = "https://rp.example/callback",
        state: str = "xyz",
        expires_in: dt.timedelta = dt.timedelta(minutes=10),
    ) -> FakeAuthRequest:
        """A relying party's authorization request the app opens with ``url``."""
        needs_sign = any(s != "openid" for s in scopes)
        request = AuthRequest(
            self._next_id("authreq"), client_name, scopes, needs_sign, None,
            self.clock.now() + expires_in,
        )  # fmt: skip
        made = FakeAuthRequest(request, redirect_uri, state)
        self.auth_requests[url] = made
        return made

    def backend(self, device_id: str) -> FakeBackend:
        self.device(device_id)
        return FakeBackend(self, device_id)

    def operator(self) -> FakeOperator:
        return FakeOperator(self)

    def mutating_calls(self) -> list[tuple[str, str]]:
        read_only = {
            "my_page",
            "start_application",
            "receive_pushes",
            "fetch_instructions",
            "notice_shown",  # the phone's own storage, not the service
            "open_auth_request",
        }
        return [c for c in self.calls if c[1] not in read_only]

    def snapshot(self) -> object:
        """A comparable picture of everything the service and the devices hold."""
        return (
            self.card_sign.tries_left,
            self.card_auth.tries_left,
            {
                d.device_id: (
                    dict(d.status),
                    d.push_enabled,
                    d.biometrics,
                    len(d.pushes),
                    tuple(d.instructions),
                )
                for d in self.devices.values()
            },
        )

    # --- internals ----------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial}"

    def _others_holding(self, device_id: str) -> list[FakeDevice]:
        return [d for d in self.devices.values() if d.device_id != device_id and d.holds()]

    def _push(self, dev: FakeDevice, kind: PushKind) -> None:
        if dev.push_enabled:
            dev.pushes.append(PushNotice(kind, self.clock.now()))


class FakeBackend:
    """One phone's view of a :class:`FakeWorld`; implements ``AppBackend``."""

    def __init__(self, world: FakeWorld, device_id: str) -> None:
        self.world = world
        self.device_id = device_id
        self._drafts: dict[str, ApplicationDraft] = {}
        self._tickets: dict[str, CardTicket] = {}
        self._releases: dict[str, ReleaseDraft] = {}
        # The ⑩ secrets, kept in the app's memory from ⑪ to ⑬ as PortalBackend keeps them: a
        # new FakeBackend for the same device is the app restarted, and 登録する asks again.
        self._new_secrets: NewSecrets | None = None

    @property
    def dev(self) -> FakeDevice:
        return self.world.devices[self.device_id]

    def _call(self, method: str) -> None:
        self.world.calls.append((self.device_id, method))
        if not self.dev.online:
            raise Unavailable("the phone is offline")

    def my_page(self) -> MyPageView:
        self._call("my_page")
        d = self.dev
        return MyPageView(
            d.status[Hierarchy.SIGN], d.status[Hierarchy.AUTH], d.push_enabled, d.biometrics
        )

    def start_application(
        self,
        kind: ApplicationKind,
        certs: frozenset[Hierarchy],
        terms_version: str,
        card_sign_password: str,
    ) -> ApplicationDraft:
        self._call("start_application")
        if not certs:
            raise Rejected("no-certificate-chosen")
        self.world.card_sign.check(card_sign_password)
        if Hierarchy.SIGN in certs and self.world.under_15:
            raise Rejected("not-eligible", "signing certificates need age 15")
        draft = ApplicationDraft(
            self.world._next_id("draft"),
            kind,
            certs,
            other_device_holds=bool(self.world._others_holding(self.device_id)),
        )
        self._drafts[draft.draft_id] = draft
        return draft

    def confirm_application(
        self, draft: ApplicationDraft, *, consent_to_revoke: bool, secrets: NewSecrets
    ) -> None:
        self._call("confirm_application")
        if self._drafts.get(draft.draft_id) != draft:
            raise Rejected("unknown-draft")
        others = self.world._others_holding(self.device_id)
        if others and not consent_to_revoke:
            raise Rejected(CONSENT_REQUIRED)  # refused whole: the draft stays for a retry
        del self._drafts[draft.draft_id]
        now = self.world.clock.now()
        for other in others:  # one phone per person: the old phone's certificates go
            held = other.holds()
            for h in held:
                other.status[h] = AppCertStatus.REVOKED
            other.instructions.append(
                AppInstruction(
                    self.world._next_id("instr"),
                    InstructionKind.DELETE,
                    held,
                    now,
                    now + DELETE_WINDOW,
                )
            )
        dev = self.dev
        # Applying again clears the slots that kept revoked certificates (the portal's
        # slot clearance): a deletion this phone missed is moot, and no longer told of.
        dev.instructions = [i for i in dev.instructions if now <= i.delete_until]
        # A new application replaces whatever this phone held.
        for h in _BOTH:
            dev.status[h] = AppCertStatus.READY if h in draft.certs else AppCertStatus.NONE
        # ⑪ makes the keys in the element under the secrets typed at ⑩: from now on the
        # element checks those (登録する VERIFYs them before writing the certificates).
        if Hierarchy.SIGN in draft.certs and secrets.sign_password is not None:
            dev.sign_password = _Secret(SecretKind.PHONE_SIGN, secrets.sign_password, 5)
        if Hierarchy.AUTH in draft.certs and secrets.auth_pin is not None:
            dev.auth_pin = _Secret(SecretKind.PHONE_AUTH, secrets.auth_pin, 3)
        self._new_secrets = secrets
        self.world._push(dev, PushKind.READY)

    def receive_pushes(self) -> Sequence[PushNotice]:
        self._call("receive_pushes")
        out, self.dev.pushes = list(self.dev.pushes), []
        return out

    def register(self, secrets: NewSecrets | None = None) -> frozenset[Hierarchy]:
        self._call("register")
        dev = self.dev
        ready = frozenset(h for h, s in dev.status.items() if s is AppCertStatus.READY)
        if not ready:
            raise Rejected("nothing-ready")
        secrets = secrets or self._new_secrets
        if secrets is None:
            raise Rejected("secrets-unknown", "the passwords set at ⑩ are needed")
        # As the element (phone/steps.py register): every ready certificate's secret is
        # verified first, the signing password before the PIN; a wrong one registers nothing
        # and costs a try of its own counter.
        for h in sorted(ready):
            guard = dev.sign_password if h is Hierarchy.SIGN else dev.auth_pin
            given = secrets.sign_password if h is Hierarchy.SIGN else secrets.auth_pin
            if given is None:
                raise Rejected("secrets-missing", f"no secret for {h.value}")
            if guard is not None:
                guard.check(given)
        self._new_secrets = None
        for h in ready:
            dev.status[h] = AppCertStatus.REGISTERED
        return ready

    def enrol_biometrics(self, auth_pin: str) -> None:
        self._call("enrol_biometrics")
        dev = self.dev
        if dev.status[Hierarchy.AUTH] is not AppCertStatus.REGISTERED or dev.auth_pin is None:
            raise Rejected("no-auth-certificate")
        dev.auth_pin.check(auth_pin)
        dev.biometrics = True

    def self_check(self, sign_password: str | None, auth_pin: str | None) -> SelfCheck:
        self._call("self_check")
        dev = self.dev

        def one(h: Hierarchy, secret: _Secret | None, given: str | None) -> Validity | None:
            status = dev.status[h]
            if status is AppCertStatus.REVOKED:
                return Validity.REVOKED
            if status is AppCertStatus.SUSPENDED:
                return Validity.SUSPENDED
            if status is not AppCertStatus.REGISTERED:
                return None
            if secret is not None and not (h is Hierarchy.AUTH and dev.biometrics):
                secret.check(given or "")
            return Validity.GOOD

        return SelfCheck(
            one(Hierarchy.SIGN, dev.sign_password, sign_password),
            one(Hierarchy.AUTH, dev.auth_pin, auth_pin),
        )

    # --- デジタル認証アプリ -------------------------------------------------------------------
    def _auth(self, request_id: str) -> FakeAuthRequest:
        found = next(
            (r for r in self.world.auth_requests.values() if r.request.request_id == request_id),
            None,
        )
        if found is None:
            raise Rejected("authapp-not-found")
        if found.answer is not None:
            raise Rejected("authapp-finished")
        if self.world.clock.now() > found.request.expires_at:
            raise Rejected("authapp-expired")
        return found

    def open_auth_request(self, url: str) -> AuthRequest:
        self._call("open_auth_request")
        found = self.world.auth_requests.get(url.strip())
        if found is None:
            raise Rejected("authapp-not-found")
        return self._auth(found.request.request_id).request

    def approve_auth_request(
        self,
        request: AuthRequest,
        *,
        holder: AuthHolder,
        auth_pin: str,
        sign_password: str | None,
    ) -> str:
        self._call("approve_auth_request")
        found = self._auth(request.request_id)
        auth: _Secret
        sign: _Secret | None
        if holder is AuthHolder.CARD:
            auth, sign = self.world.card_auth, self.world.card_sign
        else:
            dev = self.dev
            if dev.status[Hierarchy.AUTH] is not AppCertStatus.REGISTERED or dev.auth_pin is None:
                raise Rejected("no-auth-certificate")
            auth, sign = dev.auth_pin, dev.sign_password
        auth.check(auth_pin)
        if request.needs_sign_key:
            if sign is None:
                raise Rejected("no-such-certificate")
            sign.check(sign_password or "")
        found.answer = "approved"
        return f"{found.redirect_uri}?code=fake-{request.request_id}&state={found.state}"

    def deny_auth_request(self, request: AuthRequest) -> str:
        self._call("deny_auth_request")
        found = self._auth(request.request_id)
        found.answer = "denied"
        return f"{found.redirect_uri}?error=access_denied&state={found.state}"

    def revoke(self, certs: frozenset[Hierarchy], secret: str) -> None:
        self._call("revoke")
        dev = self.dev
        held = dev.holds() & certs
        if not held:
            raise Rejected("nothing-to-revoke")
        guard = dev.sign_password if revocation_secret(certs) is Hierarchy.SIGN else dev.auth_pin
        if guard is not None:
            guard.check(secret)
        for h in held:
            dev.status[h] = AppCertStatus.REVOKED

    def revoke_other_phone(self, card_sign_password: str) -> frozenset[Hierarchy]:
        self._call("revoke_other_phone")
        self.world.card_sign.check(card_sign_password)
        others = self.world._others_holding(self.device_id)
        if not others:
            raise Rejected("no-other-device")
        revoked: set[Hierarchy] = set()
        now = self.world.clock.now()
        for other in others:
            held = other.holds()
            for h in held:
                other.status[h] = AppCertStatus.REVOKED
                revoked.add(h)
            # As the service does (service/portal/revocation.py): a 48-hour deletion whose
            # reason the old phone's notice names.
            other.instructions.append(
                AppInstruction(
                    self.world._next_id("instr"),
                    InstructionKind.DELETE,
                    held,
                    now,
                    now + DELETE_WINDOW,
                    InstructionReason.REVOKED_FROM_MY_PAGE,
                )
            )
        return frozenset(revoked)

    def set_push(self, enabled: bool) -> None:
        self._call("set_push")
        self.dev.push_enabled = enabled

    def read_card_for_reset(self, cert: Hierarchy, card_secret: str) -> CardTicket:
        self._call("read_card_for_reset")
        if self.dev.status[cert] is not AppCertStatus.REGISTERED:
            raise Rejected("no-such-certificate")
        self.world.card_sign.check(card_secret)  # a card-signed request, either certificate
        ticket = CardTicket(self.world._next_id("ticket"), cert)
        self._tickets[ticket.ticket_id] = ticket
        return ticket

    def reset_password(self, ticket: CardTicket, new_secret: str) -> None:
        self._call("reset_password")
        if self._tickets.pop(ticket.ticket_id, None) != ticket:
            raise Rejected("unknown-ticket")
        if ticket.cert is Hierarchy.SIGN:
            self.dev.sign_password = _Secret(SecretKind.PHONE_SIGN, new_secret, 5)
        else:
            self.dev.auth_pin = _Secret(SecretKind.PHONE_AUTH, new_secret, 3)

    def start_release(self, card_sign_password: str) -> ReleaseDraft:
        self._call("start_release")
        dev = self.dev
        held = frozenset(h for h, s in dev.status.items() if s is AppCertStatus.SUSPENDED)
        if not held:
            raise Rejected("not-suspended")
        self.world.card_sign.check(card_sign_password)
        draft = ReleaseDraft(self.world._next_id("release"), release_plan(held))
        self._releases[draft.draft_id] = draft
        return draft

    def confirm_release(self, draft: ReleaseDraft, new_sign_password: str | None) -> None:
        self._call("confirm_release")
        if self._releases.pop(draft.draft_id, None) != draft:
            raise Rejected("unknown-draft")
        dev = self.dev
        if Hierarchy.SIGN in draft.new_password_for and new_sign_password is None:
            raise Rejected("secrets-missing")
        for h, step in draft.plan.items():
            if step is ReleaseStep.UNHOLD:
                dev.status[h] = AppCertStatus.REGISTERED  # simply un-held
            else:
                dev.status[h] = AppCertStatus.READY  # revoked, re-issued for a new key
                assert new_sign_password is not None  # noqa: S101 - checked above
                dev.sign_password = _Secret(SecretKind.PHONE_SIGN, new_sign_password, 5)
                # ⑬ registers it with the password set just now (as PortalBackend).
                pin = self._new_secrets.auth_pin if self._new_secrets else None
                self._new_secrets = NewSecrets(sign_password=new_sign_password, auth_pin=pin)
                self.world._push(dev, PushKind.READY)

    def fetch_instructions(self) -> Sequence[AppInstruction]:
        self._call("fetch_instructions")
        now = self.world.clock.now()
        # As the portal: an expired deletion is listed as lapsed (its certificates stay,
        # revoked) until the phone has seen the notice about it.
        return [
            replace(i, lapsed=now > i.delete_until)
            for i in self.dev.instructions
            if i.instruction_id not in self.dev.seen_notices
        ]

    def notice_shown(self, instruction_id: str) -> None:
        self.world.calls.append((self.device_id, "notice_shown"))  # local: works offline too
        self.dev.seen_notices.add(instruction_id)

    def delete_certificates(self, instruction: AppInstruction) -> None:
        self._call("delete_certificates")
        dev = self.dev
        known = [i for i in dev.instructions if i.instruction_id == instruction.instruction_id]
        if not known:
            raise Rejected("unknown-instruction")
        dev.instructions.remove(known[0])
        if self.world.clock.now() > instruction.delete_until:
            raise Rejected("instruction-expired")
        for h in instruction.certs:
            dev.status[h] = AppCertStatus.NONE
        dev.sign_password = dev.auth_pin = None
        dev.biometrics = False


class FakeOperator:
    """Implements ``OperatorBackend`` on a :class:`FakeWorld`."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def suspend_by_hotline(self) -> None:
        self.world.calls.append(("operator", "suspend_by_hotline"))
        for dev in self.world.devices.values():
            for h, s in dev.status.items():
                if s is AppCertStatus.REGISTERED:
                    dev.status[h] = AppCertStatus.SUSPENDED

    def change_of_address(self) -> None:
        self.world.calls.append(("operator", "change_of_address"))
        for dev in self.world.devices.values():  # user-auth certificates survive 異動
            if Hierarchy.SIGN in dev.holds():
                dev.status[Hierarchy.SIGN] = AppCertStatus.REVOKED

    def advance_time(self, delta: dt.timedelta) -> None:
        self.world.calls.append(("operator", "advance_time"))
        try:
            advance_clock(self.world.clock, delta)
        except ClockNotMovable as exc:
            raise Rejected("clock-not-movable", str(exc)) from None
