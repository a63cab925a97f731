"""What a person reads when a backend call fails: every error code mapped to a :class:`Message`.

One place, so the codes stay stable and no code string reaches a screen (docs/lifecycle.md,
"Errors"): a code not listed here gets the general message.
"""

from __future__ import annotations

from collections.abc import Mapping

from mobile_jpki.phone.app.backend import (
    BackendError,
    IncorrectSecret,
    SecretKind,
    SecretLocked,
    Unavailable,
)
from mobile_jpki.phone.app.screens import Message, MessageCode

_WRONG = {
    SecretKind.CARD_SIGN: MessageCode.WRONG_CARD_SECRET,
    SecretKind.CARD_AUTH: MessageCode.WRONG_CARD_PIN,
    SecretKind.PHONE_SIGN: MessageCode.WRONG_PHONE_SECRET,
    SecretKind.PHONE_AUTH: MessageCode.WRONG_PHONE_PIN,
}
_LOCKED = {
    SecretKind.CARD_SIGN: MessageCode.CARD_LOCKED,
    SecretKind.CARD_AUTH: MessageCode.CARD_PIN_LOCKED,
    SecretKind.PHONE_SIGN: MessageCode.PHONE_LOCKED,
    SecretKind.PHONE_AUTH: MessageCode.PHONE_PIN_LOCKED,
}
# Every code a backend raises (the portal's problem codes, the adapters' own) and the message a
# person sees for it. A code not listed shows the general message, never the code itself: the
# code stays in the message's params for logs and tests (docs/lifecycle.md, "Errors").
ERROR_MESSAGES: Mapping[str, MessageCode] = {
    "password-format": MessageCode.PASSWORD_FORMAT,
    "pin-format": MessageCode.PIN_FORMAT,
    "no-certificate-chosen": MessageCode.CHOOSE_ONE_CERT,
    "no-other-device": MessageCode.NO_OTHER_DEVICE,
    "not-eligible": MessageCode.NOT_ELIGIBLE,
    "card-certificate-invalid": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-unknown": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-revoked": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-expired": MessageCode.CARD_CERTIFICATE_INVALID,
    "card-certificate-held": MessageCode.CARD_CERTIFICATE_HELD,
    "nothing-ready": MessageCode.NOTHING_READY,
    "nothing-to-revoke": MessageCode.NOTHING_TO_REVOKE,
    "no-such-certificate": MessageCode.NOTHING_TO_REVOKE,
    "no-auth-certificate": MessageCode.NOTHING_READY,
    "not-suspended": MessageCode.NOT_SUSPENDED,
    "nonce-unknown": MessageCode.SESSION_EXPIRED,
    "nonce-expired": MessageCode.SESSION_EXPIRED,
    "nonce-used": MessageCode.SESSION_EXPIRED,
    "stale-signature": MessageCode.SESSION_EXPIRED,
    "unknown-draft": MessageCode.SESSION_EXPIRED,
    "unknown-ticket": MessageCode.SESSION_EXPIRED,
    "unknown-instruction": MessageCode.SESSION_EXPIRED,
    "instruction-expired": MessageCode.SESSION_EXPIRED,
    "instruction-superseded": MessageCode.SESSION_EXPIRED,
    # The element refused the service's signature (hosts not sharing the instruction key,
    # docs/deploy.md): reported to the service; nothing the person can do but try later.
    "instruction-refused": MessageCode.UNAVAILABLE,
    "rate-limited": MessageCode.RATE_LIMITED,
    "unauthenticated": MessageCode.DEVICE_NOT_RECOGNISED,
    "forbidden": MessageCode.NOT_ALLOWED,
    "device-mismatch": MessageCode.NOT_ALLOWED,
    # The element applied from another enrolment: its credential is not issued again.
    "device-enrolled": MessageCode.NOT_ALLOWED,
    "signature-invalid": MessageCode.NOT_ALLOWED,
    "not-found": MessageCode.STATE_CHANGED,
    "conflict": MessageCode.STATE_CHANGED,
    "terms-outdated": MessageCode.TERMS_OUTDATED,
    "attestation-invalid": MessageCode.DEVICE_UNSUPPORTED,
    "certificate-not-rsa": MessageCode.DEVICE_UNSUPPORTED,
    "installation-proof-invalid": MessageCode.REGISTER_FAILED,
    # ⑪ makes the keys before the service answers: a refused attempt leaves ready
    # certificates whose keys are gone from the element; only a new application helps.
    "certificate-key-replaced": MessageCode.REGISTER_FAILED,
    "secrets-missing": MessageCode.SECRETS_NEEDED,
    "secrets-unknown": MessageCode.SECRETS_NEEDED,
    "unavailable": MessageCode.UNAVAILABLE,
    "application-in-progress": MessageCode.IN_PROGRESS,
    "invalid-request": MessageCode.INVALID_REQUEST,
}


def message_for(error: BackendError) -> Message:
    """The screen message for a backend error (one place, so codes stay stable). No code
    string reaches a screen: an unknown code gets the general message."""
    if isinstance(error, IncorrectSecret):
        return Message(_WRONG[error.which], (("tries_left", str(error.tries_left)),))
    if isinstance(error, SecretLocked):
        return Message(_LOCKED[error.which])
    if isinstance(error, Unavailable):
        return Message(MessageCode.UNAVAILABLE)
    known = ERROR_MESSAGES.get(error.code)
    if known is not None:
        return Message(known)
    if error.code.startswith("sw-"):  # a status word the app did not expect (ISO 7816-4)
        return Message(MessageCode.CHIP_ERROR, (("code", error.code),))
    return Message(MessageCode.OTHER, (("code", error.code),))
