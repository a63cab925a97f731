"""The Mynaportal app's steps, scripted (the seed's ①-⑬ and the lifecycle around them).

The app reaches the card and its own secure element only through APDUs
(:class:`~mobile_jpki.reader.commands.JpkiClient`), and the service only through HTTP
(:class:`~mobile_jpki.phone.client.PortalClient`). Signed documents are CMS SignedData made by
an injected ``sign_document(content, key, certificate)`` so the card- or element-backed key
(:class:`~mobile_jpki.reader.key.ApduRSAPrivateKey`) never needs to know about CMS.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel

from mobile_jpki.clock import Clock
from mobile_jpki.lifecycle import revocation_secret
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.attestation import GeneratedKey
from mobile_jpki.protocol.documents import (
    ApplicationDoc,
    ApplicationKind,
    AttestedKey,
    DocType,
    InquiryDoc,
    ReleaseDoc,
    ResetDoc,
    RevocationDoc,
    b64,
    canonical,
)
from mobile_jpki.protocol.instructions import (
    InstructionReason,
    parse_instruction,
    with_new_secrets,
)
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.errors import (
    ApduError,
    ConditionsNotSatisfied,
    FileNotFound,
    SecurityStatusNotSatisfied,
)
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.reader.passwords import normalise_sign_password
from mobile_jpki.reader.personalise import apply_phone, register_phone

from .client import PortalClient, PortalProblem

SignDocument = Callable[[bytes, rsa.RSAPrivateKey, x509.Certificate], bytes]

KIND_OF = {Hierarchy.SIGN: "phone-sign", Hierarchy.AUTH: "phone-auth"}
HIERARCHY_OF = {v: k for k, v in KIND_OF.items()}


def _secrets(sign_password: str | None, auth_pin: str | None) -> dict[Hierarchy, str]:
    """The phone secrets given, keyed by slot; signing passwords upper-cased as the app does."""
    given: dict[Hierarchy, str] = {}
    if sign_password is not None:
        given[Hierarchy.SIGN] = normalise_sign_password(sign_password)
    if auth_pin is not None:
        given[Hierarchy.AUTH] = auth_pin
    return given


class Outcome(StrEnum):
    """What became of a queued deletion the phone tried to carry out."""

    DELETED = "deleted"  # carried out (or found done already) and acknowledged
    EXPIRED = "expired"  # past its 48 hours: the certificates stay, revoked
    SUPERSEDED = "superseded"  # withdrawn, or the slot holds a newer certificate


class InstructionRefused(Exception):
    """The element refused a deletion the service signed for it, for no reason the phone
    expected (not its 48 hours, not a newer certificate): most often 69 82 for a signature
    made with another instruction key — hosts that do not share it (docs/deploy.md). The
    phone has reported it to the service (``POST /instructions/{id}/refused``)."""

    def __init__(self, instruction_id: str, sw: int, reason: str) -> None:
        super().__init__(
            f"the secure element refused instruction {instruction_id}: SW {sw:04X} ({reason})"
        )
        self.instruction_id = instruction_id
        self.sw = sw
        self.reason = reason


class ConsentNeeded(Exception):
    """「旧スマホ用電子証明書は失効されます」: the person has another phone; ask 同意して次へ."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ScriptedPhone:
    """One phone as a scripted client: its element, its portal client, its handled push ids."""

    api: PortalClient
    element: JpkiClient
    sign_document: SignDocument
    clock: Clock
    device_id: str | None = None
    seen_push: set[int] = field(default_factory=set)
    # Instructions whose notice the person has seen (kept after 48 hours): shown once.
    seen_notices: set[str] = field(default_factory=set)

    # -- enrolment ---------------------------------------------------------------------------
    def enrol(self, *, push_channel: str = "inprocess") -> str:
        """Register the element's attestation certificate; keep the device credential."""
        self.element.select_ap()
        attestation = self.element.attestation_certificate()
        from cryptography.hazmat.primitives.serialization import Encoding

        answer = self.api.enrol(attestation.public_bytes(Encoding.DER), push_channel=push_channel)
        self.device_id = answer["device_id"]
        return self.device_id

    def _device(self) -> str:
        if self.device_id is None:
            raise RuntimeError("enrol the phone first")
        return self.device_id

    # -- the card ----------------------------------------------------------------------------
    @staticmethod
    def card_signing_key(
        card: JpkiClient, password: str
    ) -> tuple[ApduRSAPrivateKey, x509.Certificate]:
        """④ + ⑧: the card signing password, then the card's signing key (stays on the card)."""
        card.select_ap()
        card.verify(Hierarchy.SIGN, normalise_sign_password(password))
        cert = card.read_certificate(Hierarchy.SIGN)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("the card signing certificate is not RSA")
        return ApduRSAPrivateKey(card, Hierarchy.SIGN, public), cert

    def _card_signed(self, card: JpkiClient, password: str, doc: BaseModel) -> bytes:
        key, cert = self.card_signing_key(card, password)
        return self.sign_document(canonical(doc), key, cert)

    def _now(self) -> dt.datetime:
        return self.clock.now()

    # -- 申請 (first application or model change) -------------------------------------------
    def apply(self, card: JpkiClient, **choices: Any) -> str:
        """⑤-⑪ and send: see :meth:`prepare_application`. Returns the application id; raises
        :class:`ConsentNeeded` when the service says another phone holds certificates and
        ``consent`` was not given (the dialog 「旧スマホ用電子証明書は失効されます」)."""
        return self.send_application(self.prepare_application(card, **choices))

    def send_application(self, cms: bytes) -> str:
        try:
            return self.api.apply(cms)["application_id"]
        except PortalProblem as problem:
            if problem.code == "revoke-consent-required":
                raise ConsentNeeded(str(problem.body.get("detail", ""))) from problem
            raise

    def prepare_application(
        self,
        card: JpkiClient,
        *,
        card_password: str,
        certificates: Iterable[Hierarchy],
        sign_password: str | None = None,
        auth_pin: str | None = None,
        model_change: bool = False,
        consent: bool = False,
        terms_version: str | None = None,
        kind: ApplicationKind | None = None,
    ) -> bytes:
        """⑤-⑪ up to the signature: choose certificates, tick the terms, read the card, agree
        (or not) to revoke the old phone, set the phone's passwords. Returns the card-signed
        application (CMS) ready to send.

        Only the ticked certificates' secrets are asked for (seed ⑩); a phone element is
        activated with the secrets of the slots that hold keys (docs/apdu.md "Lifecycle"), and a
        later application for the other certificate sets its secret then."""
        device_id = self._device()
        info = self.api.info()
        wanted = list(dict.fromkeys(certificates))
        nonce = self.api.nonce("application")
        self.element.select_ap()
        fresh = self._fresh_element()
        ca_material: dict[str, Any] = {}
        if fresh:
            ca_material = {
                "sign_ca": x509.load_der_x509_certificate(base64.b64decode(info["sign_ca"][-1])),
                "auth_ca": x509.load_der_x509_certificate(base64.b64decode(info["auth_ca"][-1])),
                "instruction_public_key": base64.b64decode(info["instruction_key"]),
            }
        given = _secrets(sign_password, auth_pin)
        missing = [role.value for role in wanted if role not in given]
        if missing:
            raise ValueError(f"the new phone secret is needed for: {', '.join(missing)}")
        self._clear_revoked(wanted)
        challenge = bytes.fromhex(nonce)
        # Every attempt generates fresh keys (attested over this nonce) and sets the secrets
        # typed at ⑩ for them: the element clears the secret of a slot without a certificate
        # when a key is generated there (docs/apdu.md "Lifecycle"), so the secrets of an
        # abandoned attempt never stand in the way of this one.
        application = apply_phone(
            self.element,
            roles=wanted,
            challenge=challenge,
            sign_password=given.get(Hierarchy.SIGN),
            auth_pin=given.get(Hierarchy.AUTH),
            **ca_material,
        )
        generated: dict[Hierarchy, GeneratedKey] = dict(application.keys)
        keys = {
            KIND_OF[role]: AttestedKey(spki=b64(g.spki), attestation=b64(g.attestation or b""))
            for role, g in generated.items()
        }
        doc = ApplicationDoc(
            device_id=device_id,
            nonce=nonce,
            signed_at=self._now(),
            application=kind
            or (ApplicationKind.MODEL_CHANGE if model_change else ApplicationKind.FIRST),
            certificates=[KIND_OF[r] for r in wanted],  # type: ignore[misc]
            terms_version=terms_version or info["terms_version"],
            revoke_other_device=consent,
            keys=keys,  # type: ignore[arg-type]
        )
        return self._card_signed(card, card_password, doc)

    def _clear_revoked(self, wanted: list[Hierarchy]) -> None:
        """A slot applied for that still holds a certificate (revoked: the phone came online
        after the 48-hour window and kept it) is cleared first by the service's instruction,
        bound to the element's challenge; the element refuses a new key over a certificate.
        When the service refuses (that certificate is not revoked), key generation answers
        for itself (69 85)."""
        self.element.select_ap()
        present = self.element.presence()
        if not any(present.get(role) for role in wanted):
            return
        challenge = self.element.get_challenge(16)
        try:
            instruction = self.api.clear_revoked(challenge)
        except PortalProblem as problem:
            if problem.code != "conflict":
                raise
            return
        self.element.send_instruction(instruction)
        self.element.select_ap()

    def _fresh_element(self) -> bool:
        try:
            self.element.instruction_public_key_der()
        except FileNotFound:
            return True
        return False

    # -- push ----------------------------------------------------------------------------------
    def handle_push(self, messages: Iterable[Any]) -> list[str]:
        """At-least-once delivery: a message id seen before is ignored. Returns new topics."""
        topics = []
        for message in messages:
            if message.id in self.seen_push:
                continue
            self.seen_push.add(message.id)
            topics.append(message.topic)
        return topics

    # -- 登録 ----------------------------------------------------------------------------------
    def register(
        self, *, sign_password: str | None = None, auth_pin: str | None = None
    ) -> list[str]:
        """⑫-⑬: write the ready certificates into the element and prove each installation by
        signing the service's challenge with the installed key. Returns the kinds registered.
        Each ready certificate needs its own secret (the one set at ⑩)."""
        done = []
        secrets = _secrets(sign_password, auth_pin)
        items = self.api.registrations()
        ready = sorted(HIERARCHY_OF[item["kind"]] for item in items)
        for hierarchy in ready:
            if hierarchy not in secrets:
                raise ValueError(f"the phone secret for {hierarchy.value} is needed to register")
        # Every secret first (set at ⑪ with the keys), the signing password before the PIN: a
        # wrong one registers nothing, and its WrongSecret names the slot whose VERIFY the
        # element refused (63 Cx alone does not), so the app says 暗証番号 or パスワード.
        self.element.select_ap()
        for hierarchy in ready:
            self.element.verify(hierarchy, secrets[hierarchy])
        for item in items:
            hierarchy = HIERARCHY_OF[item["kind"]]
            cert = x509.load_der_x509_certificate(base64.b64decode(item["certificate"]))
            register_phone(self.element, {hierarchy: cert}, activate=True)
            self.element.verify(hierarchy, secrets[hierarchy])
            public = cert.public_key()
            if not isinstance(public, rsa.RSAPublicKey):
                raise ValueError("phone certificates are RSA")
            key = ApduRSAPrivateKey(self.element, hierarchy, public)
            signature = key.sign(
                base64.b64decode(item["message"]), padding.PKCS1v15(), hashes.SHA256()
            )
            self.api.complete_registration(item["item_id"], signature)
            done.append(item["kind"])
        return done

    # -- instructions (deletion after a model change, within 48 hours) -------------------------
    def sync_instructions(self) -> list[str]:
        """Coming online: carry out each queued deletion (:meth:`carry_out`). Returns the ids
        carried out and acknowledged."""
        return [
            item["id"]
            for item in self.api.instructions()
            if self.carry_out(item["id"]) is Outcome.DELETED
        ]

    def carry_out(self, instruction_id: str) -> Outcome:
        """One queued deletion: the element's challenge goes to the service, which signs the
        instruction for it; the element carries it out once and the phone acknowledges.

        A slot whose named certificate is already gone answers 90 00 (docs/apdu.md), so a
        deletion whose acknowledgement was lost is carried out again and acknowledged. Not
        acknowledged: past its 48 hours (the service's 410, or the element's clock: 69 82),
        withdrawn by the service, or stale — the slot holds a certificate it does not name
        (69 85), registered since."""
        self.element.select_ap()
        challenge = self.element.get_challenge(16)
        try:
            instruction = self.api.signed_instruction(instruction_id, challenge)
        except PortalProblem as problem:
            if problem.code == "instruction-expired":
                return Outcome.EXPIRED
            if problem.code in ("not-found", "conflict"):
                return Outcome.SUPERSEDED  # withdrawn, or acknowledged already
            raise
        try:
            self.element.send_instruction(instruction)
        except SecurityStatusNotSatisfied as exc:
            # 69 82 (ISO 7816-4 §5.6): past its not-after by the element's clock — or a
            # signature, target or challenge the element does not accept, which the service
            # must hear of: nothing else would tell it that these certificates stay.
            if self._now() > parse_instruction(instruction).not_after:
                return Outcome.EXPIRED
            self._refused(instruction_id, exc.sw, "signature, target or challenge not accepted")
        except ConditionsNotSatisfied:
            return Outcome.SUPERSEDED  # 69 85: the slot holds a certificate it does not name
        except ApduError as exc:  # 6A 80 and the like: an instruction this element cannot use
            self._refused(instruction_id, exc.sw, "refused by the element")
        self.api.acknowledge(instruction_id)
        return Outcome.DELETED

    def _refused(self, instruction_id: str, sw: int, reason: str) -> NoReturn:
        """Report the refusal to the service, then raise :class:`InstructionRefused`."""
        try:
            self.api.report_refusal(instruction_id, sw, reason)
        except PortalProblem:
            pass  # the report is best effort; the error below is what the person sees
        raise InstructionRefused(instruction_id, sw, reason)

    def lapsed_notices(self) -> list[dict[str, Any]]:
        """Deletions this phone missed (offline past the 48 hours) and has not yet told its
        owner of: the certificates stay in its element, revoked. Marks them seen."""
        fresh = [i for i in self.api.lapsed_instructions() if i["id"] not in self.seen_notices]
        self.seen_notices.update(i["id"] for i in fresh)
        return fresh

    # -- 失効 ------------------------------------------------------------------------------------
    def revoke(
        self,
        *,
        certificates: Iterable[Hierarchy],
        sign_password: str | None = None,
        auth_pin: str | None = None,
    ) -> list[str]:
        """My page → 失効 on this phone, signed inside the element with the key of the
        certificate it acts on (lifecycle.revocation_secret): the signing key after the signing
        password when the signing certificate is among them, else the user-authentication key
        after its PIN — so a phone holding only that one can revoke it."""
        chosen = frozenset(certificates)
        which = revocation_secret(chosen)
        given = sign_password if which is Hierarchy.SIGN else auth_pin
        if given is None:
            what = "signing password" if which is Hierarchy.SIGN else "user-auth PIN"
            raise ValueError(f"revoking these certificates needs the phone {what}")
        nonce = self.api.nonce("revocation")
        self.element.select_ap()
        self.element.verify(
            which, normalise_sign_password(given) if which is Hierarchy.SIGN else given
        )
        cert = self._certificate_of(which)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("phone certificates are RSA")
        doc = RevocationDoc(
            type=DocType.PHONE_REVOCATION,
            device_id=self._device(),
            nonce=nonce,
            signed_at=self._now(),
            certificates=[KIND_OF[h] for h in sorted(chosen)],  # type: ignore[misc]
        )
        key = ApduRSAPrivateKey(self.element, which, public)
        return self.api.revoke(self.sign_document(canonical(doc), key, cert))

    def _certificate_of(self, which: Hierarchy) -> x509.Certificate:
        """The certificate of ``which`` for signing a request with its key: the element's, or —
        issued but never written there (登録準備完了, or held by the hotline before 登録する) —
        the service's registration item; its key was made in the element at ⑪."""
        try:
            return self.element.read_certificate(which)
        except FileNotFound:
            for item in self.api.registrations():
                if item["kind"] == KIND_OF[which]:
                    return x509.load_der_x509_certificate(base64.b64decode(item["certificate"]))
            raise

    def revoke_other(self, card: JpkiClient, *, card_password: str) -> list[str]:
        """別のスマホのスマホ用電子証明書 → 失効 (card-signed)."""
        doc = RevocationDoc(
            type=DocType.REVOKE_OTHER_DEVICE,
            device_id=self._device(),
            nonce=self.api.nonce("revocation"),
            signed_at=self._now(),
            certificates=["phone-sign", "phone-auth"],
        )
        return self.api.revoke_other(self._card_signed(card, card_password, doc))

    def other_phone_holds(self, card: JpkiClient, *, card_password: str) -> bool:
        """⑧: read the card and ask the service, read-only, whether another phone of its
        holder holds certificates (a card-signed inquiry), so ⑨ comes before ⑩."""
        doc = InquiryDoc(
            device_id=self._device(), nonce=self.api.nonce("inquiry"), signed_at=self._now()
        )
        return self.api.holder_inquiry(self._card_signed(card, card_password, doc))

    def release_hold(
        self, card: JpkiClient, *, card_password: str, new_sign_password: str | None = None
    ) -> dict[str, str]:
        """一時利用停止の解除 (card-signed), in one flow (JPKI-FACTS "Loss or theft"): the
        user-auth certificate is un-held; the signing certificate is revoked, its slot cleared by
        the service's instruction, and — with ``new_sign_password`` — a new key applied for at
        once: it comes back 登録準備完了 and :meth:`register` installs it. Returns
        {kind: "released" | "reissued" | "reapply"} ("reapply": no new password was given)."""
        doc = ReleaseDoc(
            device_id=self._device(), nonce=self.api.nonce("release"), signed_at=self._now()
        )
        result = self.api.release(self._card_signed(card, card_password, doc))
        if result.get("phone-sign") != "reapply":
            return result
        for item in self.api.instructions():
            if item.get("reason") == InstructionReason.REISSUE_SIGNING:
                self.carry_out(item["id"])
        if new_sign_password is not None:
            self.apply(
                card,
                card_password=card_password,
                certificates=[Hierarchy.SIGN],
                sign_password=new_sign_password,
                kind=ApplicationKind.REISSUE,  # recorded as such in the application and audit
            )
            result["phone-sign"] = "reissued"
        return result

    def reset_password(
        self, card: JpkiClient, *, card_password: str, certificate: Hierarchy, new_secret: str
    ) -> None:
        """初期化: card-signed request; the service's instruction is bound to the element's
        challenge; the new secret is appended by the app (never sent to the service)."""

        self.element.select_ap()
        challenge = self.element.get_challenge(16)
        doc = ResetDoc(
            device_id=self._device(),
            nonce=self.api.nonce("reset"),
            signed_at=self._now(),
            certificate=KIND_OF[certificate],  # type: ignore[arg-type]
            element_challenge=challenge.hex(),
        )
        cms = self._card_signed(card, card_password, doc)
        instruction = self.api.password_reset(cms)
        if certificate is Hierarchy.SIGN:
            full = with_new_secrets(
                instruction, signing_password=normalise_sign_password(new_secret)
            )
        else:
            full = with_new_secrets(instruction, auth_pin=new_secret)
        # The card is another applet: reading it leaves the element's last challenge intact.
        self.element.send_instruction(full)

    # -- reading -------------------------------------------------------------------------------
    def check_validity(self) -> list[dict[str, Any]]:
        """有効性確認 / 動作確認."""
        return self.api.certificates()

    def my_page(self) -> dict[str, Any]:
        return self.api.my_page()
