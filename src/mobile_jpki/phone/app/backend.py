"""What the app needs from the rest of the phone: the portal, the card reader, the secure element.

The app's screens (:mod:`.flows`) are a pure state machine over this Protocol. Two
implementations: :class:`~mobile_jpki.phone.app.fake.FakeBackend` (in-tree, deterministic, for
tests and the simulator) and ``portal_backend`` (the portal API client plus the APDU steps that
drive the emulated My Number Card and secure element).

Contract every implementation keeps:

- A call either completes or raises a :class:`BackendError`; nothing else escapes. The app turns
  the error into a screen message by its ``code``.
- :meth:`AppBackend.start_application` only *reads*: it reads the card (verifying the card
  signing password) and asks the service whether another device holds certificates. It changes
  nothing at the service, so 「やめる」 on the dialog that follows leaves everything as it was.
  Only :meth:`AppBackend.confirm_application` applies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from mobile_jpki.lifecycle import ReleaseStep
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind
from mobile_jpki.protocol.instructions import InstructionReason


class AppCertStatus(StrEnum):
    """One certificate kind as my page shows it for THIS phone."""

    NONE = "none"  # not applied for (or deleted)
    APPLIED = "applied"  # applied for; the service has not issued yet
    READY = "ready"  # issued, waiting to be written into the secure element (登録準備完了)
    REGISTERED = "registered"
    SUSPENDED = "suspended"  # 一時利用停止 (certificateHold) after a hotline call
    REVOKED = "revoked"


class SecretKind(StrEnum):
    CARD_SIGN = "card-sign"  # 6-16 A-Z/0-9, 5 tries
    CARD_AUTH = "card-auth"  # 4 digits, 3 tries
    PHONE_SIGN = "phone-sign"
    PHONE_AUTH = "phone-auth"


class PushKind(StrEnum):
    READY = "ready"  # 登録準備完了


class InstructionKind(StrEnum):
    DELETE = "delete"  # revoked by a model change or from another phone: delete them
    REISSUE = "reissue"  # release after a hold: clear the signing slot for its successor


class Validity(StrEnum):
    """The answer of 動作確認 for one certificate (from OCSP, RFC 6960 §2.2, plus hold)."""

    GOOD = "good"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


# The code a backend raises (as ``Rejected``) from ``confirm_application`` when another device
# holds certificates and ``consent_to_revoke`` was False: the app then shows the dialog ⑨.
CONSENT_REQUIRED = "consent-required"

# The version of the terms (利用規約) the app shows; sent with every application so the
# service can record which text the person consented to.
TERMS_VERSION = "2025-06"


@dataclass(frozen=True)
class MyPageView:
    sign: AppCertStatus
    auth: AppCertStatus
    push_enabled: bool
    biometrics_enrolled: bool = False

    def status(self, cert: Hierarchy) -> AppCertStatus:
        return self.sign if cert is Hierarchy.SIGN else self.auth

    def with_status(self, cert: Hierarchy, status: AppCertStatus) -> MyPageView:
        return replace(self, sign=status) if cert is Hierarchy.SIGN else replace(self, auth=status)


@dataclass(frozen=True)
class ApplicationDraft:
    """The result of reading the card for an application: nothing is applied yet."""

    draft_id: str
    kind: ApplicationKind
    certs: frozenset[Hierarchy]
    other_device_holds: bool


@dataclass(frozen=True)
class NewSecrets:
    """The smartphone passwords chosen on 「新しいパスワードの設定」 (None: not applied for)."""

    sign_password: str | None = field(default=None, repr=False)
    auth_pin: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PushNotice:
    kind: PushKind
    sent_at: dt.datetime


@dataclass(frozen=True)
class AppInstruction:
    """What the service asks an old phone to do when it comes online."""

    instruction_id: str
    kind: InstructionKind
    certs: frozenset[Hierarchy]
    revoked_at: dt.datetime
    delete_until: dt.datetime  # revoked_at + 48 h (JPKI-FACTS "One phone per person")
    reason: str = InstructionReason.MODEL_CHANGE  # why: the notice names its cause
    # The service no longer hands it out for carrying out: it expired while the phone was
    # offline, so the certificates stay, revoked (the app says so once).
    lapsed: bool = False


@dataclass(frozen=True)
class ReleaseDraft:
    """The card was read for 一時利用停止の解除: what release does to each suspended certificate
    of this phone (lifecycle.release_plan). Nothing is released yet."""

    draft_id: str
    plan: Mapping[Hierarchy, ReleaseStep]

    @property
    def new_password_for(self) -> frozenset[Hierarchy]:
        return frozenset(h for h, step in self.plan.items() if step is ReleaseStep.REISSUE)


@dataclass(frozen=True)
class CardTicket:
    """Proof that the card was read with its secret, for a following step (password reset)."""

    ticket_id: str
    cert: Hierarchy


class AuthHolder(StrEnum):
    """Whose keys answer a デジタル認証アプリ request: the phone's secure element (its
    smartphone certificates) or the My Number Card held against it
    (マイナンバーカードで読み取る)."""

    PHONE = "phone"
    CARD = "card"


@dataclass(frozen=True)
class AuthRequest:
    """A relying party's authorization request as the デジタル認証アプリ shows it before the
    person consents (:class:`mobile_jpki.phone.authapp.ApprovalView`, without the challenge:
    the backend keeps what it signs)."""

    request_id: str
    client_name: str
    scopes: tuple[str, ...]
    needs_sign_key: bool  # facts or a signature asked: the signing password is needed too
    digest_hex: str | None  # a sign transaction's SHA-256, when the RP asks for a signature
    expires_at: dt.datetime


# The codes an authorization request is refused with (``Rejected``): the OAuth error the
# service answered (docs/auth-app.md), prefixed; ``authapp-other-service`` is a URL of another
# service than the one the app talks to, never contacted.
AUTHAPP_REFUSALS = (
    "authapp-access-denied",
    "authapp-expired",
    "authapp-finished",
    "authapp-not-found",
    "authapp-invalid-request",
)
AUTHAPP_OTHER_SERVICE = "authapp-other-service"


@dataclass(frozen=True)
class SelfCheck:
    sign: Validity | None  # None: this phone holds no such certificate
    auth: Validity | None


# --- errors -----------------------------------------------------------------------------------


class BackendError(Exception):
    """Anything a backend call can fail with. ``code`` is stable; ``detail`` is for logs."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class IncorrectSecret(BackendError):
    def __init__(self, which: SecretKind, tries_left: int) -> None:
        super().__init__("wrong-secret", f"{which.value}, {tries_left} tries left")
        self.which = which
        self.tries_left = tries_left


class SecretLocked(BackendError):
    def __init__(self, which: SecretKind) -> None:
        super().__init__("secret-locked", which.value)
        self.which = which


class Unavailable(BackendError):
    """The service (or the card) could not be reached; retrying later may work."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("unavailable", detail)


class Rejected(BackendError):
    """The service refused: ``code`` says why (``no-other-device``, ``not-eligible``,
    ``card-certificate-invalid``, ``nothing-ready``, ``instruction-expired``…)."""


# --- the Protocols ----------------------------------------------------------------------------


class AppBackend(Protocol):
    """Everything one phone's app asks of the outside world."""

    def my_page(self) -> MyPageView: ...

    def start_application(
        self,
        kind: ApplicationKind,
        certs: frozenset[Hierarchy],
        terms_version: str,
        card_sign_password: str,
    ) -> ApplicationDraft:
        """Read the card with its signing password; ask (read-only) whether another device
        holds this person's smartphone certificates. Changes nothing anywhere."""
        ...

    def confirm_application(
        self, draft: ApplicationDraft, *, consent_to_revoke: bool, secrets: NewSecrets
    ) -> None:
        """Apply: generate keys in the secure element under ``secrets`` and send the card-signed
        application. ``consent_to_revoke`` records 「同意して次へ」 on the revocation dialog."""
        ...

    def receive_pushes(self) -> Sequence[PushNotice]:
        """Drain the push notifications delivered to this phone since the last call."""
        ...

    def register(self, secrets: NewSecrets | None = None) -> frozenset[Hierarchy]:
        """Write every READY certificate into the secure element; returns what was written.
        Uses the secrets set at ⑩ of this session; ``secrets`` when given (after the app was
        restarted between ⑪ and ⑬, the app asks for them and raises ``secrets-unknown``
        until it has them)."""
        ...

    def enrol_biometrics(self, auth_pin: str) -> None: ...

    def self_check(self, sign_password: str | None, auth_pin: str | None) -> SelfCheck: ...

    def revoke(self, certs: frozenset[Hierarchy], secret: str) -> None:
        """Revoke this phone's certificates (失効) with the secret of the certificate acted on
        (lifecycle.revocation_secret): the signing password when the signing certificate is
        among ``certs``, else the user-authentication PIN."""
        ...

    def revoke_other_phone(self, card_sign_password: str) -> frozenset[Hierarchy]: ...

    def set_push(self, enabled: bool) -> None: ...

    def read_card_for_reset(self, cert: Hierarchy, card_secret: str) -> CardTicket:
        """Read the card for 初期化: the signing password for the signing certificate, the
        user-authentication PIN for the user-authentication one."""
        ...

    def reset_password(self, ticket: CardTicket, new_secret: str) -> None: ...

    def start_release(self, card_sign_password: str) -> ReleaseDraft:
        """Read the card for 一時利用停止の解除 (VERIFY of its signing password) and say what
        release does to this phone's suspended certificates. Changes nothing anywhere."""
        ...

    def confirm_release(self, draft: ReleaseDraft, new_sign_password: str | None) -> None:
        """Release (JPKI-FACTS "Loss or theft"): the user-authentication certificate is
        un-held; the signing certificate is revoked and re-issued for a new key under
        ``new_sign_password``: it comes back READY and is registered with 登録する."""
        ...

    def fetch_instructions(self) -> Sequence[AppInstruction]: ...

    def open_auth_request(self, url: str) -> AuthRequest:
        """デジタル認証アプリ: open a relying party's authorization URL, the web step's app link
        or the device-approval URL on the service this phone talks to. Reads only. Refusals
        are ``Rejected`` with a code of :data:`AUTHAPP_REFUSALS` or
        :data:`AUTHAPP_OTHER_SERVICE`."""
        ...

    def approve_auth_request(
        self,
        request: AuthRequest,
        *,
        holder: AuthHolder,
        auth_pin: str,
        sign_password: str | None,
    ) -> str:
        """Consent: sign with ``holder``'s user-auth key (and signing key when
        ``request.needs_sign_key``) and answer; returns the URL the browser goes on to. A wrong
        secret is ``IncorrectSecret`` (nothing is sent then)."""
        ...

    def deny_auth_request(self, request: AuthRequest) -> str:
        """同意しない: the relying party gets ``error=access_denied``; returns that URL."""
        ...

    def delete_certificates(self, instruction: AppInstruction) -> None: ...

    def notice_shown(self, instruction_id: str) -> None:
        """Remember on this phone (its storage, so a restart keeps it) that the person saw
        and dismissed the notice about ``instruction_id``: :meth:`fetch_instructions` no
        longer returns it. Local: changes nothing at the service."""
        ...


class OperatorBackend(Protocol):
    """The simulator's operator panel: what happens to a person outside the app."""

    def suspend_by_hotline(self) -> None:
        """The 24/365 hotline (0120-95-0178) suspends every certificate of the person."""
        ...

    def change_of_address(self) -> None:
        """異動: revokes every signing certificate (affiliationChanged, RFC 5280 §5.3.1)."""
        ...

    def advance_time(self, delta: dt.timedelta) -> None:
        """Move the world's clock (e.g. past the 48-hour deletion window)."""
        ...
