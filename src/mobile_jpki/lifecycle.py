"""The lifecycle of smartphone and card certificates as one explicit, pure model.

Every rule here is one the service enforces and the app shows; both import it, so a rule has
one home (docs/lifecycle.md describes each state and transition in prose, and
``tests/test_lifecycle.py`` checks that the document and this table agree).

The sources: the user's document (seed ①-⑬) and JPKI-FACTS.md ("Flows", "Passwords and PINs",
"Certificates"). Where JPKI-FACTS marks a rule *uncertain*, the default is chosen here and the
setting that changes it is named.

No I/O and no imports beyond ``pki``: a state is data, a transition a function.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.pki.validity import EligibilityError, check_signing_eligibility

__all__ = [
    "TRANSITIONS",
    "CertEvent",
    "CertState",
    "ReleaseStep",
    "TransitionNotAllowed",
    "kinds_for_age",
    "next_state",
    "release_plan",
    "revocation_secret",
]


class CertState(StrEnum):
    """One certificate kind on one phone, as the service records it and my page shows it."""

    NONE = "none"  # never applied for, or deleted from the element
    APPLIED = "applied"  # a card-signed application was accepted; the job has not issued yet
    READY = "ready"  # issued; 登録準備が完了しています until 登録する writes it (⑫)
    REGISTERED = "registered"  # in the element and proven by a signature (⑬)
    HELD = "held"  # 一時利用停止 by the hotline (certificateHold, RFC 5280 §5.3.1)
    REVOKED = "revoked"  # on the CRL for good; still in an element that was not reached


class CertEvent(StrEnum):
    """What happens to a certificate kind on a phone (docs/lifecycle.md, one section each)."""

    APPLY = "apply"  # ⑪ the card-signed application is accepted
    ISSUE = "issue"  # the issuance job certifies the attested key (push 登録準備完了)
    REGISTER = "register"  # ⑬ written into the element and proven
    ABANDON = "abandon"  # a newer application of this device replaces an unregistered one
    HOLD = "hold"  # the 24/365 hotline
    RELEASE_AUTH = "release-auth"  # release in the app: the auth certificate is un-held
    RELEASE_SIGN = "release-sign"  # release in the app: the signing one is revoked, re-issued
    REVOKE = "revoke"  # 失効 (own or other phone), a model change, 異動 (signing), card events
    DELETE = "delete"  # the element carried out the service's deletion instruction


TRANSITIONS: Mapping[tuple[CertState, CertEvent], CertState] = {
    (CertState.NONE, CertEvent.APPLY): CertState.APPLIED,
    (CertState.REVOKED, CertEvent.APPLY): CertState.APPLIED,  # a slot still holding a dead one
    (CertState.APPLIED, CertEvent.APPLY): CertState.APPLIED,  # an abandoned attempt, replaced
    (CertState.READY, CertEvent.APPLY): CertState.APPLIED,  # an unregistered one, replaced
    (CertState.APPLIED, CertEvent.ISSUE): CertState.READY,
    (CertState.READY, CertEvent.REGISTER): CertState.REGISTERED,
    (CertState.APPLIED, CertEvent.ABANDON): CertState.NONE,
    (CertState.READY, CertEvent.ABANDON): CertState.NONE,
    (CertState.REGISTERED, CertEvent.HOLD): CertState.HELD,
    (CertState.READY, CertEvent.HOLD): CertState.HELD,
    (CertState.HELD, CertEvent.RELEASE_AUTH): CertState.REGISTERED,
    # The signing certificate is revoked at release; its successor is applied for in the same
    # flow, so the slot goes through REVOKED to APPLIED (JPKI-FACTS "Loss or theft").
    (CertState.HELD, CertEvent.RELEASE_SIGN): CertState.REVOKED,
    (CertState.APPLIED, CertEvent.REVOKE): CertState.REVOKED,
    (CertState.READY, CertEvent.REVOKE): CertState.REVOKED,
    (CertState.REGISTERED, CertEvent.REVOKE): CertState.REVOKED,
    (CertState.HELD, CertEvent.REVOKE): CertState.REVOKED,
    (CertState.REVOKED, CertEvent.DELETE): CertState.NONE,
}


class TransitionNotAllowed(ValueError):
    """``event`` cannot happen to a certificate in ``state``."""

    def __init__(self, state: CertState, event: CertEvent) -> None:
        super().__init__(f"a {state.value} certificate cannot {event.value}")
        self.state = state
        self.event = event


def next_state(state: CertState, event: CertEvent) -> CertState:
    """The state after ``event``; :class:`TransitionNotAllowed` when the model forbids it."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise TransitionNotAllowed(state, event) from None


# --- secrets ------------------------------------------------------------------------------


def revocation_secret(chosen: frozenset[Hierarchy]) -> Hierarchy:
    """Whose secret 失効 asks for: the certificate it acts on. Revoking the signing certificate
    (alone or with the other) needs the 6-16 signing password; revoking only the
    user-authentication certificate needs its 4-digit PIN, so a phone that holds only that one
    can revoke it (the request is then signed with the user-authentication key)."""
    if not chosen:
        raise ValueError("choose at least one certificate to revoke")
    return Hierarchy.SIGN if Hierarchy.SIGN in chosen else Hierarchy.AUTH


# --- release after a hotline hold -----------------------------------------------------------


class ReleaseStep(StrEnum):
    UNHOLD = "unhold"  # the certificate is good again, nothing to register
    REISSUE = "reissue"  # revoked (superseded); a new key and password, then 登録する


def release_plan(held: frozenset[Hierarchy]) -> Mapping[Hierarchy, ReleaseStep]:
    """JPKI-FACTS "Loss or theft": at release the user-authentication certificate is simply
    un-held; the signing certificate is revoked and re-issued, with a new password set in the
    same flow and registered again."""
    return {
        h: ReleaseStep.REISSUE if h is Hierarchy.SIGN else ReleaseStep.UNHOLD for h in sorted(held)
    }


# --- who gets which certificate ---------------------------------------------------------------


def kinds_for_age(date_of_birth: dt.date, now: dt.datetime) -> frozenset[Hierarchy]:
    """The certificates a card (and so a phone) may carry: user authentication always, signing
    from age 15 on today's date in Japan (JPKI-FACTS "Flows"; pki.validity owns the age rule)."""
    try:
        check_signing_eligibility(date_of_birth, now)
    except EligibilityError:
        return frozenset({Hierarchy.AUTH})
    return frozenset({Hierarchy.SIGN, Hierarchy.AUTH})
