"""What the app and the office read: 有効性確認 (certificate states), my page, and which
devices hold a person's certificates. Read-only transactions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mobile_jpki.pki.model import CertKind
from mobile_jpki.store.models import Certificate, CertRecordStatus
from mobile_jpki.store.portal import ApplicationStatus, ItemStatus

from . import repo as Q
from .context import PHONE_KINDS, Context, device


@dataclass(frozen=True)
class CertificateState:
    kind: CertKind
    serial: int
    status: str  # good / held / revoked
    reason: int | None
    not_after: dt.datetime
    registered: bool


@dataclass(frozen=True)
class MyPageEntry:
    kind: CertKind
    state: str  # registration-ready / registered / held / revoked / none
    label: str


@dataclass(frozen=True)
class MyPage:
    device_id: str
    holder: bool
    push_enabled: bool
    entries: list[MyPageEntry] = field(default_factory=list)
    applications: list[tuple[str, str]] = field(default_factory=list)


LABELS = {
    "registration-ready": "登録準備が完了しています",
    "registered": "登録済み",
    "held": "一時利用停止中",
    "revoked": "失効済み",
    "pending": "申請中",
    "none": "未申請",
}


def _age(cert: Certificate) -> tuple[dt.datetime, bool]:
    """Oldest first. Times have whole seconds: of two certificates issued in the same second
    the revoked one is the older (it was superseded by the other)."""
    return cert.issued_at, cert.status != CertRecordStatus.REVOKED.value


def certificate_states(ctx: Context, device_id: str) -> list[CertificateState]:
    """有効性確認: the status of every phone certificate issued to this device."""
    with ctx.db.transaction(write=False) as s:
        device(s, device_id)
        installed = Q.installed_serials(s, device_id)
        return [
            CertificateState(
                CertKind(c.kind),
                int(c.serial, 16),
                c.status,
                c.reason,
                c.not_after,
                c.serial in installed,
            )
            for c in sorted(Q.phone_certificates(s, device_id), key=_age)
        ]


def my_page(ctx: Context, device_id: str) -> MyPage:
    with ctx.db.transaction(write=False) as s:
        found = device(s, device_id)
        closed = (ApplicationStatus.SUPERSEDED.value, ApplicationStatus.FAILED.value)
        # Oldest first; within one second a closed application is the older one.
        apps = sorted(
            Q.device_applications(s, device_id),
            key=lambda a: (a.created_at, a.status not in closed),
        )
        states: dict[CertKind, str] = {k: "none" for k in PHONE_KINDS}
        for app in apps:
            for item in Q.items_of(s, app.id):
                kind = CertKind(item.kind)
                if item.status == ItemStatus.READY.value:
                    states[kind] = "registration-ready"
                elif item.status == ItemStatus.INSTALLED.value:
                    states[kind] = "registered"
                elif item.status == ItemStatus.PENDING.value:
                    states[kind] = "pending"
                elif item.status == ItemStatus.REVOKED.value:
                    states[kind] = "revoked"
        for cert in Q.phone_certificates(s, device_id):
            kind = CertKind(cert.kind)
            if cert.status == CertRecordStatus.HELD.value:
                states[kind] = "held"
            elif cert.status == CertRecordStatus.REVOKED.value and states[kind] in (
                "registered",
                "registration-ready",
            ):
                latest = max(
                    (c for c in Q.phone_certificates(s, device_id) if c.kind == cert.kind),
                    key=_age,
                )
                if latest.serial == cert.serial:
                    states[kind] = "revoked"
        return MyPage(
            device_id,
            found.holder,
            found.push_enabled,
            [MyPageEntry(k, v, LABELS[v]) for k, v in states.items()],
            [(a.id, a.status) for a in apps],
        )


def holders(ctx: Context, person_id: str) -> list[str]:
    """Devices of the person that hold unrevoked phone certificates (checks the CA's rows,
    not the holder flag: what the invariant is about)."""
    with ctx.db.transaction(write=False) as s:
        return Q.devices_with_unrevoked_phone_certificates(s, person_id)
