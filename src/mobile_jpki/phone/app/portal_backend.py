"""``AppBackend`` over the real thing: the portal API, the card and the secure element in APDUs.

Adapts :class:`~mobile_jpki.phone.steps.ScriptedPhone` (the portal engineer's app-side steps:
an ``httpx`` :class:`~mobile_jpki.phone.client.PortalClient` plus the element's
:class:`~mobile_jpki.reader.commands.JpkiClient`) to the app's Protocol, and translates every
failure (APDU status words, RFC 7807 problems, transport errors) into a
:class:`~mobile_jpki.phone.app.backend.BackendError` with a stable code.

Where the portal API and the document's order of screens differ, this adapter bridges the gap
and says so:

- ⑧⑨ The card is read with a card-signed *holder inquiry*: the service answers, changing
  nothing, whether another phone of the card's holder holds certificates, so the dialog
  comes before ⑩ for 申請する and 機種変更 alike. Should that change before ⑪, the service
  answers ``revoke-consent-required`` and the app shows the dialog then — still before
  anything is applied.
- ⑩ The portal signs the application over keys generated under the new passwords, so the card
  is used again at ⑪ (the emulated card stays in reach; a real card would be read again), and
  the card password typed at ④ is kept in memory until then.
- ⑩ asks only for the passwords of the certificates applied for (「申請するスマホ用電子証明書の
  パスワード設定」): a phone ACTIVATEs with the secrets of the slots that hold a key
  (docs/apdu.md "Lifecycle"); the unticked secret stays unset until that certificate is
  applied for. Every attempt sets the secrets typed in it: an abandoned attempt's are cleared
  by the element with the key they guarded.
- ⑬ registration proves each installed key with the new passwords typed at ⑩, kept in memory
  from ⑪ to ⑬ (a restart in between means registering after a password reset).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mobile_jpki.clock import Clock, ClockNotMovable, advance_clock
from mobile_jpki.lifecycle import release_plan, revocation_secret
from mobile_jpki.phone import authapp
from mobile_jpki.phone.app.backend import (
    AUTHAPP_OTHER_SERVICE,
    CONSENT_REQUIRED,
    AppCertStatus,
    AppInstruction,
    ApplicationDraft,
    AuthHolder,
    AuthRequest,
    BackendError,
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
from mobile_jpki.phone.client import OperatorClient, PortalProblem
from mobile_jpki.phone.steps import (
    HIERARCHY_OF,
    ConsentNeeded,
    InstructionRefused,
    Outcome,
    ScriptedPhone,
)
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind
from mobile_jpki.protocol.instructions import Action, InstructionReason
from mobile_jpki.reader import errors as rerr
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.reader.passwords import normalise_sign_password

CardReader = Callable[[], JpkiClient]
"""The My Number Card held against the phone: a client of its JPKI AP (NFC or a PC/SC reader)."""

PushInbox = Callable[[], Iterable[Any]]
"""Push messages delivered to this device since the last call (objects with ``id``/``topic``)."""

_STATES: Mapping[str, AppCertStatus] = {
    "none": AppCertStatus.NONE,
    "pending": AppCertStatus.APPLIED,
    "registration-ready": AppCertStatus.READY,
    "registered": AppCertStatus.REGISTERED,
    "held": AppCertStatus.SUSPENDED,
    "revoked": AppCertStatus.REVOKED,
}
_PROBLEMS: Mapping[str, str] = {
    "revoke-consent-required": CONSENT_REQUIRED,
    "card-certificate-unknown": "card-certificate-invalid",
    "card-certificate-revoked": "card-certificate-invalid",
    "card-certificate-held": "card-certificate-invalid",
    "card-certificate-expired": "card-certificate-invalid",
}
_DELETE = Action.DELETE_SIGN | Action.DELETE_AUTH
_READY_TOPIC = "registration-ready"


_CARD = {Hierarchy.SIGN: SecretKind.CARD_SIGN, Hierarchy.AUTH: SecretKind.CARD_AUTH}
_PHONE = {Hierarchy.SIGN: SecretKind.PHONE_SIGN, Hierarchy.AUTH: SecretKind.PHONE_AUTH}


def _verified(which: SecretKind, slot: Hierarchy | None) -> SecretKind:
    """The secret a refused VERIFY was for: the device ``which`` names (card or phone), the slot
    the VERIFY named — a step that verifies both phone secrets (登録する) is told apart by the
    command, not by the status word (63 Cx says only how many tries are left)."""
    if slot is None:
        return which
    card = which in (SecretKind.CARD_SIGN, SecretKind.CARD_AUTH)
    return (_CARD if card else _PHONE)[slot]


@contextmanager
def _translated(which: SecretKind) -> Iterator[None]:
    """Every failure below becomes a BackendError; ``which`` names the secret a VERIFY used
    (its device; the slot comes from the VERIFY itself when it says, :func:`_verified`)."""
    try:
        yield
    except BackendError:
        raise
    except ConsentNeeded as exc:
        raise Rejected(CONSENT_REQUIRED, exc.message) from exc
    except rerr.WrongSecret as exc:
        raise IncorrectSecret(_verified(which, exc.secret), exc.tries_left) from exc
    except rerr.SecretBlocked as exc:
        raise SecretLocked(_verified(which, exc.secret)) from exc
    except rerr.AuthenticationMethodBlocked as exc:
        raise SecretLocked(which) from exc
    except rerr.InvalidSecret as exc:
        # A 4-digit user-authentication secret is a 暗証番号: its own message.
        pin = which in (SecretKind.CARD_AUTH, SecretKind.PHONE_AUTH)
        raise Rejected("pin-format" if pin else "password-format", str(exc)) from exc
    except rerr.TransportError as exc:  # no reader, no card in the field
        raise Unavailable(str(exc)) from exc
    except rerr.ApduError as exc:
        raise Rejected(f"sw-{exc.sw:04x}", str(exc)) from exc
    except PortalProblem as exc:
        raise Rejected(_PROBLEMS.get(exc.code, exc.code), str(exc)) from exc
    except httpx.TransportError as exc:
        raise Unavailable(str(exc)) from exc


# The service's OAuth errors on the device approval (docs/auth-app.md) as the app's codes.
_AUTHAPP_ERRORS: Mapping[str, str] = {
    "access_denied": "authapp-access-denied",
    "expired": "authapp-expired",
    "request_finished": "authapp-finished",
    "not_found": "authapp-not-found",
}


@contextmanager
def _authapp_translated() -> Iterator[None]:
    """The app library's errors (phone/authapp.py) as the app's codes."""
    try:
        yield
    except authapp.NotThisService as exc:
        raise Rejected(AUTHAPP_OTHER_SERVICE, str(exc)) from exc
    except authapp.AuthAppRefused as exc:
        code = _AUTHAPP_ERRORS.get(exc.error, "authapp-invalid-request")
        raise Rejected(code, f"{exc.error}: {exc.description}") from exc
    except authapp.MalformedAnswer as exc:
        raise Rejected("authapp-malformed", str(exc)) from exc


def _rsa_key(element: JpkiClient, h: Hierarchy) -> tuple[ApduRSAPrivateKey, Any]:
    cert = element.read_certificate(h)
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise Rejected("certificate-not-rsa")
    return ApduRSAPrivateKey(element, h, public), cert


class PortalBackend:
    """One phone's ``AppBackend`` on an enrolled :class:`ScriptedPhone`."""

    def __init__(self, phone: ScriptedPhone, card: CardReader, inbox: PushInbox) -> None:
        self.phone = phone
        self.card = card
        self.inbox = inbox
        self._card_passwords: dict[str, str] = {}  # draft or ticket id -> card password
        self._drafts: dict[str, ApplicationDraft] = {}
        self._terms: dict[str, str] = {}
        self._new_secrets: NewSecrets | None = None
        self._instructions: set[str] = set()
        self._biometrics = False
        self._serial = 0
        self._auth_views: dict[str, authapp.ApprovalView] = {}

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial}"

    def my_page(self) -> MyPageView:
        with _translated(SecretKind.PHONE_SIGN):
            page = self.phone.my_page()
        states = {
            HIERARCHY_OF.get(e["kind"]): _STATES.get(e["state"], AppCertStatus.NONE)
            for e in page["entries"]
        }
        return MyPageView(
            states.get(Hierarchy.SIGN, AppCertStatus.NONE),
            states.get(Hierarchy.AUTH, AppCertStatus.NONE),
            bool(page["push_enabled"]),
            self._biometrics,
        )

    def start_application(
        self,
        kind: ApplicationKind,
        certs: frozenset[Hierarchy],
        terms_version: str,
        card_sign_password: str,
    ) -> ApplicationDraft:
        with _translated(SecretKind.CARD_SIGN):
            # ⑧: VERIFY the card signing password, and ask the service with the card's
            # signature whether another phone holds certificates (nothing is applied).
            others = self.phone.other_phone_holds(self.card(), card_password=card_sign_password)
        draft = ApplicationDraft(self._next("draft"), kind, certs, other_device_holds=others)
        self._drafts[draft.draft_id] = draft
        self._terms[draft.draft_id] = terms_version  # the version the person read and ticked
        self._card_passwords[draft.draft_id] = normalise_sign_password(card_sign_password)
        return draft

    def confirm_application(
        self, draft: ApplicationDraft, *, consent_to_revoke: bool, secrets: NewSecrets
    ) -> None:
        if self._drafts.get(draft.draft_id) != draft:
            raise Rejected("unknown-draft")
        given = {Hierarchy.SIGN: secrets.sign_password, Hierarchy.AUTH: secrets.auth_pin}
        missing = [h.value for h in draft.certs if given[h] is None]
        if missing:
            raise Rejected("secrets-missing", f"no new secret for {', '.join(missing)}")
        with _translated(SecretKind.CARD_SIGN):
            cms = self.phone.prepare_application(
                self.card(),
                card_password=self._card_passwords[draft.draft_id],
                certificates=sorted(draft.certs),
                sign_password=secrets.sign_password,
                auth_pin=secrets.auth_pin,
                model_change=draft.kind is ApplicationKind.MODEL_CHANGE,
                consent=consent_to_revoke,
                terms_version=self._terms[draft.draft_id],
            )
            self.phone.send_application(cms)
        del self._drafts[draft.draft_id], self._terms[draft.draft_id]
        del self._card_passwords[draft.draft_id]
        self._new_secrets = secrets

    def receive_pushes(self) -> Sequence[PushNotice]:
        with _translated(SecretKind.PHONE_SIGN):
            topics = self.phone.handle_push(self.inbox())
        now = self.phone.clock.now()
        return [PushNotice(PushKind.READY, now) for t in topics if t == _READY_TOPIC]

    def register(self, secrets: NewSecrets | None = None) -> frozenset[Hierarchy]:
        secrets = secrets or self._new_secrets
        if secrets is None:
            # The ⑩ secrets lived in this app's memory only: after a restart the app asks.
            raise Rejected("secrets-unknown", "the passwords set at ⑩ are needed")
        with _translated(SecretKind.PHONE_SIGN):
            try:
                # The secrets of the certificates applied for (None for an unticked one).
                done = self.phone.register(
                    sign_password=secrets.sign_password,
                    auth_pin=secrets.auth_pin,
                )
            except rerr.IncorrectData as exc:
                # The element refuses a certificate that does not carry its slot's key: a
                # later attempt (⑪ generates keys before the service answers) replaced the
                # key, and the service refused that attempt. Only a new application helps.
                raise Rejected("certificate-key-replaced", str(exc)) from exc
        if not done:
            raise Rejected("nothing-ready")
        self._new_secrets = None
        return frozenset(HIERARCHY_OF[k] for k in done)

    def enrol_biometrics(self, auth_pin: str) -> None:
        with _translated(SecretKind.PHONE_AUTH):
            self.phone.element.select_ap()
            self.phone.element.verify(Hierarchy.AUTH, auth_pin)
        self._biometrics = True

    def self_check(self, sign_password: str | None, auth_pin: str | None) -> SelfCheck:
        page = self.my_page()
        results: dict[Hierarchy, Validity | None] = {}
        with _translated(SecretKind.PHONE_SIGN):
            states = self.phone.check_validity()
        for h in (Hierarchy.SIGN, Hierarchy.AUTH):
            if page.status(h) not in (
                AppCertStatus.REGISTERED,
                AppCertStatus.SUSPENDED,
                AppCertStatus.REVOKED,
            ):
                results[h] = None
                continue
            results[h] = _validity(h, states)
            if results[h] is Validity.GOOD:
                secret = sign_password if h is Hierarchy.SIGN else auth_pin
                if h is Hierarchy.AUTH and self._biometrics and not secret:
                    continue  # the device's biometrics stand in for the PIN
                which = SecretKind.PHONE_SIGN if h is Hierarchy.SIGN else SecretKind.PHONE_AUTH
                with _translated(which):
                    self._sign_challenge(h, secret or "")
        return SelfCheck(results[Hierarchy.SIGN], results[Hierarchy.AUTH])

    def _sign_challenge(self, h: Hierarchy, secret: str) -> None:
        """動作確認: sign a fresh challenge inside the element and check it with the certificate."""
        element = self.phone.element
        element.select_ap()
        element.verify(h, normalise_sign_password(secret) if h is Hierarchy.SIGN else secret)
        cert = element.read_certificate(h)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise Rejected("certificate-not-rsa")
        challenge = os.urandom(32)
        signature = ApduRSAPrivateKey(element, h, public).sign(
            challenge, padding.PKCS1v15(), hashes.SHA256()
        )
        public.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())

    def revoke(self, certs: frozenset[Hierarchy], secret: str) -> None:
        which = revocation_secret(certs)
        kind = SecretKind.PHONE_SIGN if which is Hierarchy.SIGN else SecretKind.PHONE_AUTH
        with _translated(kind):
            if which is Hierarchy.SIGN:
                self.phone.revoke(sign_password=secret, certificates=certs)
            else:
                self.phone.revoke(auth_pin=secret, certificates=certs)

    def revoke_other_phone(self, card_sign_password: str) -> frozenset[Hierarchy]:
        with _translated(SecretKind.CARD_SIGN):
            serials = self.phone.revoke_other(self.card(), card_password=card_sign_password)
        if not serials:
            raise Rejected("no-other-device")
        return frozenset({Hierarchy.SIGN, Hierarchy.AUTH})

    def set_push(self, enabled: bool) -> None:
        with _translated(SecretKind.PHONE_SIGN):
            self.phone.api.set_push(enabled)

    def read_card_for_reset(self, cert: Hierarchy, card_secret: str) -> CardTicket:
        # The portal takes a card-SIGNED reset request for either certificate.
        with _translated(SecretKind.CARD_SIGN):
            ScriptedPhone.card_signing_key(self.card(), card_secret)
        ticket = CardTicket(self._next("ticket"), cert)
        self._card_passwords[ticket.ticket_id] = normalise_sign_password(card_secret)
        return ticket

    def reset_password(self, ticket: CardTicket, new_secret: str) -> None:
        card_password = self._card_passwords.pop(ticket.ticket_id, None)
        if card_password is None:
            raise Rejected("unknown-ticket")
        with _translated(SecretKind.CARD_SIGN):
            self.phone.reset_password(
                self.card(),
                card_password=card_password,
                certificate=ticket.cert,
                new_secret=new_secret,
            )

    def start_release(self, card_sign_password: str) -> ReleaseDraft:
        page = self.my_page()
        held = frozenset(h for h in Hierarchy if page.status(h) is AppCertStatus.SUSPENDED)
        if not held:
            raise Rejected("not-suspended")
        with _translated(SecretKind.CARD_SIGN):
            ScriptedPhone.card_signing_key(self.card(), card_sign_password)  # reads only
        draft = ReleaseDraft(self._next("release"), release_plan(held))
        self._card_passwords[draft.draft_id] = normalise_sign_password(card_sign_password)
        return draft

    def confirm_release(self, draft: ReleaseDraft, new_sign_password: str | None) -> None:
        card_password = self._card_passwords.pop(draft.draft_id, None)
        if card_password is None:
            raise Rejected("unknown-draft")
        with _translated(SecretKind.CARD_SIGN):
            self.phone.release_hold(
                self.card(), card_password=card_password, new_sign_password=new_sign_password
            )
        if new_sign_password is not None:
            # ⑬ registers the re-issued signing certificate with the password set just now.
            pin = self._new_secrets.auth_pin if self._new_secrets else None
            self._new_secrets = NewSecrets(sign_password=new_sign_password, auth_pin=pin)

    def fetch_instructions(self) -> Sequence[AppInstruction]:
        with _translated(SecretKind.PHONE_SIGN):
            # Valid ones to carry out, and the ones the phone missed (offline past the 48
            # hours): the service hands those out no more, but the person is told, once.
            items = [(i, False) for i in self.phone.api.instructions()]
            items += [(i, True) for i in self.phone.api.lapsed_instructions()]
        out = []
        for item, lapsed in items:
            if not item["actions"] & _DELETE:
                continue  # only deletions are queued; resets come with their challenge
            if item["id"] in self.phone.seen_notices:
                continue
            not_after = _aware(item["not_after"])
            certs = frozenset(
                h
                for h, bit in ((Hierarchy.SIGN, 0x01), (Hierarchy.AUTH, 0x02))
                if item["actions"] & bit
            )
            self._instructions.add(item["id"])
            reason = str(item.get("reason") or "")
            silent = reason == InstructionReason.REISSUE_SIGNING
            kind = InstructionKind.REISSUE if silent else InstructionKind.DELETE
            out.append(
                AppInstruction(
                    item["id"],
                    kind,
                    certs,
                    not_after - dt.timedelta(hours=48),
                    not_after,
                    reason,
                    lapsed=lapsed,
                )
            )
        return out

    # --- デジタル認証アプリ (phone/authapp.py over the phone's own HTTP client) ------------------
    def open_auth_request(self, url: str) -> AuthRequest:
        with _translated(SecretKind.PHONE_AUTH), _authapp_translated():
            view = authapp.open_authorization(self.phone.api.http, url)
        # One request at a time, as the app shows one: an abandoned one is forgotten.
        self._auth_views = {view.request_id: view}
        tx = view.sign_transaction
        return AuthRequest(
            view.request_id,
            view.client_name,
            view.scopes,
            view.needs_sign_key,
            tx.digest.hex() if tx is not None else None,
            view.expires_at,
        )

    def _auth_view(self, request: AuthRequest) -> authapp.ApprovalView:
        view = self._auth_views.get(request.request_id)
        if view is None:
            raise Rejected("authapp-not-found", "this app did not open that request")
        return view

    def approve_auth_request(
        self,
        request: AuthRequest,
        *,
        holder: AuthHolder,
        auth_pin: str,
        sign_password: str | None,
    ) -> str:
        view = self._auth_view(request)
        card = holder is AuthHolder.CARD
        element = self.card() if card else self.phone.element
        which = SecretKind.CARD_AUTH if card else SecretKind.PHONE_AUTH
        with _translated(which), _authapp_translated():
            element.select_ap()
            element.verify(Hierarchy.AUTH, auth_pin)
            auth_key, auth_cert = _rsa_key(element, Hierarchy.AUTH)
            sign_key = sign_cert = None
            if view.needs_sign_key:
                element.verify(Hierarchy.SIGN, normalise_sign_password(sign_password or ""))
                sign_key, sign_cert = _rsa_key(element, Hierarchy.SIGN)
            redirect = authapp.approve(
                self.phone.api.http, view, auth_key=auth_key, auth_cert=auth_cert,
                sign_key=sign_key, sign_cert=sign_cert,
            )  # fmt: skip
        del self._auth_views[view.request_id]
        return redirect

    def deny_auth_request(self, request: AuthRequest) -> str:
        view = self._auth_view(request)
        with _translated(SecretKind.PHONE_AUTH), _authapp_translated():
            redirect = authapp.deny(self.phone.api.http, view)
        del self._auth_views[view.request_id]
        return redirect

    def notice_shown(self, instruction_id: str) -> None:
        # The phone's memory (ScriptedPhone.seen_notices; the CLI keeps it in the app profile).
        self.phone.seen_notices.add(instruction_id)
        self._instructions.discard(instruction_id)

    def delete_certificates(self, instruction: AppInstruction) -> None:
        if instruction.instruction_id not in self._instructions:
            raise Rejected("unknown-instruction")
        self._instructions.discard(instruction.instruction_id)
        with _translated(SecretKind.PHONE_SIGN):
            # Signed for the element's challenge; the element checks the signature, the
            # not-after and that each slot holds a certificate it names (or none).
            try:
                outcome = self.phone.carry_out(instruction.instruction_id)
            except InstructionRefused as exc:  # reported to the service already
                raise Rejected("instruction-refused", str(exc)) from None
        if outcome is Outcome.EXPIRED:
            raise Rejected("instruction-expired")
        if outcome is Outcome.SUPERSEDED:
            raise Rejected("instruction-superseded")


def _aware(value: str | dt.datetime) -> dt.datetime:
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _validity(h: Hierarchy, states: list[dict[str, Any]]) -> Validity:
    kind = {Hierarchy.SIGN: "phone-sign", Hierarchy.AUTH: "phone-auth"}[h]
    mine = [s for s in states if s["kind"] == kind and s.get("registered")]
    if not mine:
        return Validity.UNKNOWN
    # A phone that changed model back holds revoked certificates of its earlier turn beside
    # the live one, often with the same notAfter (the card's): the live one is what counts,
    # and a device never holds two live certificates of one kind.
    rank = {"good": Validity.GOOD, "held": Validity.SUSPENDED, "revoked": Validity.REVOKED}
    found = {rank.get(str(s["status"]), Validity.UNKNOWN) for s in mine}
    return next((v for v in rank.values() if v in found), Validity.UNKNOWN)


class PortalOperator:
    """``OperatorBackend`` on the operator API for one person."""

    def __init__(
        self,
        client: OperatorClient,
        person_id: str,
        facts: Mapping[str, object],
        clock: Clock,
        *,
        moved_to: str = "東京都千代田区霞が関一丁目",
    ) -> None:
        self.client = client
        self.person_id = person_id
        self.facts = dict(facts)
        self.clock = clock
        self.moved_to = moved_to

    def suspend_by_hotline(self) -> None:
        with _translated(SecretKind.CARD_SIGN):
            self.client.hold_phone(self.person_id)

    def change_of_address(self) -> None:
        self.facts["address"] = self.moved_to
        with _translated(SecretKind.CARD_SIGN):
            self.client.change_facts(self.person_id, **self.facts)

    def advance_time(self, delta: dt.timedelta) -> None:
        # A test's FixedClock, or the SandboxClock of a sandbox data directory (`serve` on a
        # `demo` or `ca init --sandbox` directory); a real CA's wall clock never moves.
        try:
            advance_clock(self.clock, delta)
        except ClockNotMovable as exc:
            raise Rejected("clock-not-movable", str(exc)) from None
