"""Applications (申請): a card-signed application checked and accepted, its issuance job
queued (run by :mod:`.jobs`). docs/portal.md "The application document" gives the order of
the checks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobile_jpki.pki.model import CertKind
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.pki.validity import EligibilityError, check_signing_eligibility
from mobile_jpki.protocol.attestation import AttestationError, GeneratedKey, verify_attested_key
from mobile_jpki.protocol.constants import Slot
from mobile_jpki.protocol.documents import ApplicationDoc, InquiryDoc
from mobile_jpki.store.models import CertRecordStatus
from mobile_jpki.store.portal import ApplicationStatus, ItemStatus, JobStatus

from . import errors as E
from . import repo as Q
from .cms import read_document
from .context import ACTOR, Context, facts_from_json, public_key
from .devices import use_nonce
from .signers import SigningCard, card_of_signer, check_signing_root, check_time


def apply(ctx: Context, device_id: str, cms_der: bytes, *, now: dt.datetime) -> str:
    """Check a card-signed application and queue its issuance job; returns its id.

    ONE transaction: the signer's card is read and the card's rate-limit counter bumped
    first; everything after runs in a SAVEPOINT, so a refusal rolls the application back
    and still commits the count (refused attempts count against the quota)."""
    signed = ctx.verifier.verify(cms_der)
    doc = read_document(ApplicationDoc, signed.content)
    if doc.device_id != device_id:
        raise E.DeviceMismatch("the application names another device")
    if set(doc.keys) != set(doc.certificates) or len(set(doc.certificates)) != len(
        doc.certificates
    ):
        raise E.RequestInvalid("one attested key per requested certificate, no duplicates")
    check_time(ctx, doc.signed_at, now)
    # Before the transaction: a signature check, no database.
    check_signing_root(ctx, signed.signer)
    application_id = ctx.new_id()
    refusal: E.PortalError | None = None
    # A new application may revoke its device's unregistered certificates (an abandoned
    # attempt): responders are rolled over before the write transaction, as everywhere.
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        conn = s.connection()
        # Count only signatures by a real card of ours: the signer certificate must be the
        # stored one (and the CMS verified with it, so the signer holds the card's key).
        # Otherwise anyone could exhaust a card's quota with a made-up certificate that
        # merely copies its serial number. (A refusal here rolls back: nothing counted.)
        card = card_of_signer(ctx, s, signed.signer, now, chain_checked=True)
        count, window_start = Q.bump(
            conn,
            ctx.db.is_sqlite,
            f"apply:card:{card.serial}",
            window=ctx.config.application_window,
            now=now,
        )
        try:
            if count > ctx.config.applications_per_card:
                retry = window_start + ctx.config.application_window - now
                raise E.RateLimited("too many attempts", retry_after=int(retry.total_seconds()) + 1)
            if doc.terms_version != ctx.config.terms_version:
                raise E.TermsOutdated(
                    f"the current terms are {ctx.config.terms_version}",
                    current=ctx.config.terms_version,
                )
            with s.begin_nested():
                _accept(ctx, s, doc, cms_der, card, device_id, application_id, now)
            # Recorded after the savepoint, so buffered to the commit: appended inside
            # it, the record would take the audit chain's head lock (PostgreSQL) before
            # the application's inserts and hold it through them.
            ctx.audit.record(
                s,
                at=now,
                actor=f"device:{device_id}",
                action="portal.application.accept",
                obj=f"application:{application_id}",
                payload={
                    "kind": doc.application.value,
                    "certificates": list(doc.certificates),
                    "card": card.serial,
                    "terms": doc.terms_version,
                    "revoke_other": doc.revoke_other_device,
                },
            )
        except E.PortalError as exc:
            refusal = exc
        except IntegrityError:
            # The partial unique index on open applications: a concurrent application
            # of the same person committed first.
            refusal = E.ApplicationInProgress(
                "another application of this person is being processed"
            )
    if refusal is not None:
        raise refusal
    ctx.wake()  # committed: the worker may claim the job now
    return application_id


def _accept(
    ctx: Context,
    s: Session,
    doc: ApplicationDoc,
    cms_der: bytes,
    card: SigningCard,
    device_id: str,
    application_id: str,
    now: dt.datetime,
) -> None:
    """The checks under the person's row lock, then the application, its items and its
    job (docs/portal.md "The application document" lists the order); the caller records
    the acceptance once this savepoint is released."""
    conn = s.connection()
    facts_json = Q.lock_person(conn, ctx.db.is_sqlite, card.person_id)
    if facts_json is None:
        raise E.NoSuchObject("no such person")
    use_nonce(s, doc.nonce, device_id, "application", now)
    device = Q.applying_device(conn, device_id, card.person_id)
    if device is None:
        raise E.NoSuchObject("no such device")
    try:
        # Parsed and chained to its manufacturer root once per certificate (cached by its
        # DER); the root still configured, the validity and the serial checked each time.
        attestation = ctx.attestations.check(
            device.attestation_der,
            ctx.manufacturer_roots,
            now=now,
            expected_serial=bytes.fromhex(device.element_serial),
        )
    except AttestationError as exc:
        raise E.AttestationInvalid(str(exc)) from None
    items: list[dict[str, object]] = []
    for kind in doc.kinds():
        key = doc.keys[kind.value]  # type: ignore[index]
        spki = key.spki_der()
        public_key(spki)
        slot = Slot.SIGN if kind is CertKind.PHONE_SIGN else Slot.AUTH
        try:
            # Born in this element for this application: its signature over the nonce.
            verify_attested_key(
                generated=GeneratedKey(spki, key.attestation_der()),
                challenge=bytes.fromhex(doc.nonce),
                slot=slot,
                attestation_certificate=attestation,
            )
        except AttestationError as exc:
            raise E.AttestationInvalid(f"{kind.value}: {exc}") from None
        items.append(
            {
                "id": ctx.new_id(),
                "application_id": application_id,
                "kind": kind.value,
                "spki_der": spki,
                "cert_serial": None,
                "status": ItemStatus.PENDING.value,
                "install_challenge": ctx.rand(32).hex(),
                "installed_at": None,
            }
        )
    facts, _ = facts_from_json(facts_json)
    if CertKind.PHONE_SIGN in doc.kinds():
        try:
            check_signing_eligibility(facts.date_of_birth, now)
        except EligibilityError:
            raise E.NotEligible("signing certificates are issued from age 15") from None
    if device.person_id not in (None, card.person_id) and device.holder:
        raise E.Conflict("this phone holds another person's certificates; revoke them first")
    holder = device.holder_of_person
    if holder is not None and holder != device_id and not doc.revoke_other_device:
        raise E.ConsentRequired(
            "ご自身のスマホ用電子証明書が別端末に登録されています。このまま手続きを進めると"
            "別端末に登録されている証明書は失効されます。",
            other_device=True,
        )
    # This device's own unfinished application (sent, then abandoned: the app was killed or
    # the connection lost) is replaced by this one; its certificates, if already issued and
    # never registered, are revoked (superseded). Another device's stays in the way.
    replaced, unregistered = Q.supersede_unfinished(conn, device_id, now)
    # One may be revoked already: the signing certificate a release after a hold superseded
    # (lifecycle.release_plan) before this, its reissue application. Revoked is final
    # (RFC 5280 §5.3.1), so it is not revoked again.
    live = [
        int(x, 16)
        for x in unregistered
        if (row := Q.certificate(s, x)) is None or row.status != CertRecordStatus.REVOKED.value
    ]
    if live:
        ctx.authority.revoke_many(live, Reason.SUPERSEDED, now, actor=ACTOR, session=s)
    if device.open_application is not None and device.open_application not in replaced:
        raise E.ApplicationInProgress("another application of this person is being processed")
    Q.insert_application(
        conn,
        {
            "id": application_id,
            "person_id": card.person_id,
            "card_id": card.card_id,
            "device_id": device_id,
            "kind": doc.application.value,
            "terms_version": doc.terms_version,
            "revoke_other_consent": doc.revoke_other_device,
            "nonce": doc.nonce,
            "status": ApplicationStatus.ACCEPTED.value,
            "failure_code": None,
            "cms_der": cms_der,
            "created_at": now,
            "updated_at": now,
        },
        items,
        {
            "kind": "issue",
            "application_id": application_id,
            "status": JobStatus.QUEUED.value,
            "attempts": 0,
            "run_after": now,
            "last_error": None,
            "created_at": now,
        },
    )


def holder_inquiry(ctx: Context, device_id: str, cms_der: bytes, *, now: dt.datetime) -> bool:
    """⑧ before ⑨: whether another device of the card's holder holds certificates, so the
    app shows 「旧スマホ用電子証明書は失効されます」 before it asks for new passwords (seed
    order). Card-signed over a fresh nonce; it changes nothing but the nonce. The application
    still carries the consent and is refused without it if the answer changed meanwhile."""
    signed = ctx.verifier.verify(cms_der)
    doc = read_document(InquiryDoc, signed.content)
    if doc.device_id != device_id:
        raise E.DeviceMismatch("the inquiry names another device")
    check_time(ctx, doc.signed_at, now)
    with ctx.db.transaction() as s:
        card = card_of_signer(ctx, s, signed.signer, now)
        use_nonce(s, doc.nonce, device_id, "inquiry", now)
        return bool(Q.other_holders(s.connection(), card.person_id, device_id))
