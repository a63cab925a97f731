"""Device API: what the Mynaportal app calls (enrolment, nonces, 申請, 登録, instructions,
失効, release, 初期化, 有効性確認, push settings and the SSE push stream)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Literal

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import b64, b64decode
from mobile_jpki.push.outbox import PushMessage, replay

from .auth import Ctx, DeviceId

router = APIRouter(prefix="/portal/v1", tags=["device"])

DER = serialization.Encoding.DER


class InfoOut(BaseModel):
    terms_version: str
    instruction_key: str  # base64 SubjectPublicKeyInfo (EF 0022 of the element)
    sign_ca: list[str]
    auth_ca: list[str]


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attestation_certificate: str
    push_channel: Literal["inprocess", "sse", "none"] = "sse"


class EnrolOut(BaseModel):
    device_id: str
    credential: str


class NonceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Literal["application", "inquiry", "revocation", "release", "reset"]


class NonceOut(BaseModel):
    nonce: str


class SignedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cms: str = Field(max_length=64_000)  # base64 CMS SignedData (RFC 5652)


class ApplicationOut(BaseModel):
    application_id: str
    status: str


class RegistrationOut(BaseModel):
    item_id: str
    application_id: str
    kind: str
    certificate: str
    challenge: str
    message: str  # base64 of exactly what the installed key signs


class ProofIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signature: str


class ProofOut(BaseModel):
    application_status: str


class InstructionOut(BaseModel):
    """A queued deletion. Not the instruction itself: that is signed for the element's
    challenge (``POST /instructions/{id}/signed``), so no copy of it can be replayed."""

    id: str
    actions: int
    not_after: dt.datetime
    reason: str


class SerialsOut(BaseModel):
    serials: list[str]


class ReleaseOut(BaseModel):
    result: dict[str, str]


class ResetOut(BaseModel):
    instruction: str


class CertificateStateOut(BaseModel):
    kind: str
    serial: str
    status: str
    reason: int | None
    not_after: dt.datetime
    registered: bool


class MyPageEntryOut(BaseModel):
    kind: str
    state: str
    label: str


class MyPageOut(BaseModel):
    device_id: str
    holder: bool
    push_enabled: bool
    entries: list[MyPageEntryOut]


class PushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


@router.get("/info")
def info(ctx: Ctx) -> InfoOut:
    service = ctx.service
    key = service.instruction_key.public_key().public_bytes(
        DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return InfoOut(
        terms_version=service.config.terms_version,
        instruction_key=b64(key),
        sign_ca=[b64(c.public_bytes(DER)) for c in service.roots(Hierarchy.SIGN)],
        auth_ca=[b64(c.public_bytes(DER)) for c in service.roots(Hierarchy.AUTH)],
    )


@router.post(
    "/devices",
    status_code=201,
    responses={
        200: {
            "model": EnrolOut,
            "description": "The element's device (never applied): new credential",
        }
    },
)
def enrol(body: EnrolIn, ctx: Ctx, response: Response) -> EnrolOut:
    """201 for a new device; 200 for the element's existing device that never applied (a new
    credential); 409 ``device-enrolled`` once it has applied (docs/portal.md)."""
    enrolment = ctx.service.enrol_device(
        attestation_der=b64decode(body.attestation_certificate),
        push_channel=body.push_channel,
        now=ctx.clock.now(),
    )
    if not enrolment.created:
        response.status_code = 200
    return EnrolOut(device_id=enrolment.device_id, credential=enrolment.credential)


@router.post("/nonces", status_code=201)
def nonce(body: NonceIn, ctx: Ctx, device: DeviceId) -> NonceOut:
    return NonceOut(nonce=ctx.service.new_nonce(device, purpose=body.purpose, now=ctx.clock.now()))


@router.post("/applications", status_code=202)
def apply(body: SignedIn, ctx: Ctx, device: DeviceId) -> ApplicationOut:
    app_id = ctx.service.apply(device, b64decode(body.cms), now=ctx.clock.now())
    return ApplicationOut(application_id=app_id, status="accepted")


@router.get("/my-page")
def my_page(ctx: Ctx, device: DeviceId) -> MyPageOut:
    page = ctx.service.my_page(device)
    return MyPageOut(
        device_id=page.device_id,
        holder=page.holder,
        push_enabled=page.push_enabled,
        entries=[
            MyPageEntryOut(kind=e.kind.value, state=e.state, label=e.label) for e in page.entries
        ],
    )


@router.get("/registrations")
def registrations(ctx: Ctx, device: DeviceId) -> list[RegistrationOut]:
    return [
        RegistrationOut(
            item_id=r.item_id,
            application_id=r.application_id,
            kind=r.kind.value,
            certificate=b64(r.certificate.public_bytes(DER)),
            challenge=r.challenge.hex(),
            message=b64(r.message()),
        )
        for r in ctx.service.registrations(device)
    ]


@router.post("/registrations/{item_id}")
def complete_registration(item_id: str, body: ProofIn, ctx: Ctx, device: DeviceId) -> ProofOut:
    status = ctx.service.complete_registration(
        device, item_id, b64decode(body.signature), now=ctx.clock.now()
    )
    return ProofOut(application_status=status)


class ClearanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    element_challenge: str = Field(min_length=16, max_length=128, pattern="^[0-9a-f]+$")

    @field_validator("element_challenge")
    @classmethod
    def _whole_bytes(cls, value: str) -> str:
        # An odd digit count is refused here (422), not by bytes.fromhex in the handler (500).
        if len(value) % 2:
            raise ValueError("the element challenge is whole bytes in hex")
        return value


class ClearanceOut(BaseModel):
    instruction: str  # base64 signed management instruction (docs/apdu.md)


@router.get("/instructions")
def instructions(ctx: Ctx, device: DeviceId) -> list[InstructionOut]:
    return [
        InstructionOut(id=i.id, actions=i.actions, not_after=i.not_after, reason=i.reason)
        for i in ctx.service.pending_instructions(device, now=ctx.clock.now())
    ]


@router.get("/lapsed-instructions")
def lapsed_instructions(ctx: Ctx, device: DeviceId) -> list[InstructionOut]:
    """Deletions this device missed (offline past their 48 hours): its certificates stay in
    the element, revoked. Read-only; the app says so once (docs/lifecycle.md)."""
    return [
        InstructionOut(
            id=i.id,
            actions=i.actions,
            not_after=i.not_after,
            reason=i.reason,
        )
        for i in ctx.service.lapsed_instructions(device, now=ctx.clock.now())
    ]


@router.post("/instructions/{instruction_id}/signed")
def sign_deletion(
    instruction_id: str, body: ClearanceIn, ctx: Ctx, device: DeviceId
) -> ClearanceOut:
    """A queued deletion signed for the element's challenge (its last GET CHALLENGE), naming
    the certificates it deletes: the element accepts it once (docs/apdu.md)."""
    instruction = ctx.service.sign_deletion(
        device, instruction_id, bytes.fromhex(body.element_challenge), now=ctx.clock.now()
    )
    return ClearanceOut(instruction=b64(instruction))


@router.post("/instructions/{instruction_id}/ack", status_code=204)
def acknowledge(instruction_id: str, ctx: Ctx, device: DeviceId) -> Response:
    ctx.service.acknowledge_instruction(device, instruction_id, now=ctx.clock.now())
    return Response(status_code=204)


class RefusalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The element's status word, 4 hex digits; an error one (ISO 7816-4 §5.6: 6x xx).
    sw: str = Field(pattern="^6[0-9A-Fa-f]{3}$")
    reason: str = Field(default="", max_length=200)


@router.post("/instructions/{instruction_id}/refused", status_code=204)
def refused(instruction_id: str, body: RefusalIn, ctx: Ctx, device: DeviceId) -> Response:
    """The element refused this instruction with an error the phone did not expect (a
    signature it does not accept: 69 82): recorded and logged by the service (issue 19)."""
    ctx.service.record_refusal(
        device, instruction_id, int(body.sw, 16), body.reason, now=ctx.clock.now()
    )
    return Response(status_code=204)


@router.post("/revocations")
def revoke(body: SignedIn, ctx: Ctx, device: DeviceId) -> SerialsOut:
    """失効 of this phone's certificates, signed by the phone's own key."""
    revoked = ctx.service.revoke_from_phone(device, b64decode(body.cms), now=ctx.clock.now())
    return SerialsOut(serials=[format(s, "x") for s in revoked])


@router.post("/other-device-revocations")
def revoke_other(body: SignedIn, ctx: Ctx, device: DeviceId) -> SerialsOut:
    """別のスマホのスマホ用電子証明書 → 失効, signed by the card."""
    revoked = ctx.service.revoke_other_device(device, b64decode(body.cms), now=ctx.clock.now())
    return SerialsOut(serials=[format(s, "x") for s in revoked])


@router.post("/hold-releases")
def release(body: SignedIn, ctx: Ctx, device: DeviceId) -> ReleaseOut:
    result = ctx.service.release_hold(device, b64decode(body.cms), now=ctx.clock.now())
    return ReleaseOut(result=result)


@router.post("/slot-clearances")
def slot_clearance(body: ClearanceIn, ctx: Ctx, device: DeviceId) -> ClearanceOut:
    """Before applying on a phone that kept revoked certificates (offline past 48 h): an
    instruction deleting the slots that hold only revoked ones, bound to the element's
    challenge."""
    instruction = ctx.service.clear_revoked(
        device, bytes.fromhex(body.element_challenge), now=ctx.clock.now()
    )
    return ClearanceOut(instruction=b64(instruction))


class InquiryOut(BaseModel):
    other_device_holds: bool


@router.post("/holder-inquiries")
def holder_inquiry(body: SignedIn, ctx: Ctx, device: DeviceId) -> InquiryOut:
    """⑧: does another phone of the card's holder hold certificates (card-signed; read-only
    but for the nonce)? The app shows ⑨ before ⑩ when it does."""
    other = ctx.service.holder_inquiry(device, b64decode(body.cms), now=ctx.clock.now())
    return InquiryOut(other_device_holds=other)


@router.post("/password-resets")
def password_reset(body: SignedIn, ctx: Ctx, device: DeviceId) -> ResetOut:
    instruction = ctx.service.password_reset(device, b64decode(body.cms), now=ctx.clock.now())
    return ResetOut(instruction=b64(instruction))


@router.get("/certificates")
def certificates(ctx: Ctx, device: DeviceId) -> list[CertificateStateOut]:
    """有効性確認."""
    return [
        CertificateStateOut(
            kind=c.kind.value,
            serial=format(c.serial, "x"),
            status=c.status,
            reason=c.reason,
            not_after=c.not_after,
            registered=c.registered,
        )
        for c in ctx.service.certificate_states(device)
    ]


@router.put("/push", status_code=204)
def set_push(body: PushIn, ctx: Ctx, device: DeviceId) -> Response:
    ctx.service.set_push(device, enabled=body.enabled, now=ctx.clock.now())
    return Response(status_code=204)


def _event(message: PushMessage) -> bytes:
    return f"id: {message.id}\nevent: {message.topic}\ndata: {message.to_json()}\n\n".encode()


@router.get("/events")
async def events(request: Request, ctx: Ctx, device: DeviceId) -> StreamingResponse:
    """Server-sent events: first the device's messages after ``Last-Event-ID`` (replay from
    the outbox, marked delivered so that no worker retries them: outbox.replay), then live
    ones — from this process's worker and push follower, which alone deliver this device's
    stream messages while the stream is open here. Delivery is at least once; ids are the
    dedupe keys."""
    try:
        after = int(request.headers.get("last-event-id", "0"))
    except ValueError:
        after = 0
    queue = ctx.sse.subscribe(device)

    async def stream() -> AsyncIterator[bytes]:
        last = after
        try:
            for message in await asyncio.to_thread(
                replay, ctx.service.db, device, after=after, now=ctx.clock.now()
            ):
                last = message.id
                yield _event(message)
            while not await request.is_disconnected():
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if message.id > last:
                    last = message.id
                    yield _event(message)
        finally:
            ctx.sse.unsubscribe(device, queue)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
