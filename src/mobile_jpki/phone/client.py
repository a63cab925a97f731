"""An ``httpx`` client of the portal API (docs/portal.md). In-process through an ASGI
transport for tests and the demo, over TCP otherwise; the caller owns the ``httpx.Client``."""

from __future__ import annotations

import base64
from typing import Any

import httpx


class PortalProblem(Exception):
    """An RFC 7807 answer of the portal: ``code`` is the stable problem code."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.code = str(body.get("code") or body.get("type", "about:blank"))
        super().__init__(f"{status} {self.code}: {body.get('detail', '')}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class PortalClient:
    """One method per endpoint; JSON in, JSON out; problems raised as :class:`PortalProblem`."""

    def __init__(self, http: httpx.Client, *, credential: str | None = None) -> None:
        self.http = http
        self.credential = credential

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        auth: str | None = None,
    ) -> Any:
        headers = {}
        token = auth if auth is not None else self.credential
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(method, path, json=json, headers=headers)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text}
            raise PortalProblem(response.status_code, body if isinstance(body, dict) else {})
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -- public ------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/portal/v1/info", auth="")
        return result

    def enrol(self, attestation_der: bytes, *, push_channel: str = "sse") -> dict[str, str]:
        body = {"attestation_certificate": _b64(attestation_der), "push_channel": push_channel}
        result: dict[str, str] = self._call("POST", "/portal/v1/devices", json=body, auth="")
        self.credential = result["credential"]
        return result

    # -- device ------------------------------------------------------------------------------
    def nonce(self, purpose: str) -> str:
        return str(self._call("POST", "/portal/v1/nonces", json={"purpose": purpose})["nonce"])

    def apply(self, cms: bytes) -> dict[str, str]:
        result: dict[str, str] = self._call(
            "POST", "/portal/v1/applications", json={"cms": _b64(cms)}
        )
        return result

    def my_page(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/portal/v1/my-page")
        return result

    def registrations(self) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self._call("GET", "/portal/v1/registrations")
        return result

    def complete_registration(self, item_id: str, signature: bytes) -> str:
        body = {"signature": _b64(signature)}
        return str(
            self._call("POST", f"/portal/v1/registrations/{item_id}", json=body)[
                "application_status"
            ]
        )

    def instructions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/portal/v1/instructions")
        return result

    def lapsed_instructions(self) -> list[dict[str, Any]]:
        """Deletions this device missed (offline past their window): read-only."""
        result: list[dict[str, Any]] = self._call("GET", "/portal/v1/lapsed-instructions")
        return result

    def signed_instruction(self, instruction_id: str, element_challenge: bytes) -> bytes:
        """A queued deletion signed for the element's challenge (docs/portal.md)."""
        answer = self._call(
            "POST",
            f"/portal/v1/instructions/{instruction_id}/signed",
            json={"element_challenge": element_challenge.hex()},
        )
        return base64.b64decode(answer["instruction"])

    def acknowledge(self, instruction_id: str) -> None:
        self._call("POST", f"/portal/v1/instructions/{instruction_id}/ack")

    def report_refusal(self, instruction_id: str, sw: int, reason: str) -> None:
        """The element refused the instruction with ``sw``: tell the service (docs/portal.md)."""
        self._call(
            "POST",
            f"/portal/v1/instructions/{instruction_id}/refused",
            json={"sw": f"{sw:04X}", "reason": reason[:200]},
        )

    def revoke(self, cms: bytes) -> list[str]:
        return list(
            self._call("POST", "/portal/v1/revocations", json={"cms": _b64(cms)})["serials"]
        )

    def revoke_other(self, cms: bytes) -> list[str]:
        path = "/portal/v1/other-device-revocations"
        return list(self._call("POST", path, json={"cms": _b64(cms)})["serials"])

    def release(self, cms: bytes) -> dict[str, str]:
        return dict(
            self._call("POST", "/portal/v1/hold-releases", json={"cms": _b64(cms)})["result"]
        )

    def clear_revoked(self, element_challenge: bytes) -> bytes:
        answer = self._call(
            "POST",
            "/portal/v1/slot-clearances",
            json={"element_challenge": element_challenge.hex()},
        )
        return base64.b64decode(answer["instruction"])

    def holder_inquiry(self, cms: bytes) -> bool:
        answer = self._call("POST", "/portal/v1/holder-inquiries", json={"cms": _b64(cms)})
        return bool(answer["other_device_holds"])

    def password_reset(self, cms: bytes) -> bytes:
        answer = self._call("POST", "/portal/v1/password-resets", json={"cms": _b64(cms)})
        return base64.b64decode(answer["instruction"])

    def certificates(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/portal/v1/certificates")
        return result

    def set_push(self, enabled: bool) -> None:
        self._call("PUT", "/portal/v1/push", json={"enabled": enabled})


class OperatorClient:
    """The municipal office terminal's and the hotline's client (API key)."""

    def __init__(self, http: httpx.Client, api_key: str) -> None:
        self._portal = PortalClient(http, credential=api_key)

    def register_person(self, **facts: object) -> str:
        body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in facts.items()}
        return str(self._portal._call("POST", "/operator/v1/persons", json=body)["person_id"])

    def change_facts(self, person_id: str, **facts: object) -> list[str]:
        body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in facts.items()}
        return list(
            self._portal._call("PUT", f"/operator/v1/persons/{person_id}/facts", json=body)[
                "serials"
            ]
        )

    def register_card(self, person_id: str, applet_serial: bytes, expires_at: str) -> str:
        return self.register_card_for(person_id, applet_serial, expires_at)[0]

    def register_card_for(
        self, person_id: str, applet_serial: bytes, expires_at: str
    ) -> tuple[str, frozenset[str]]:
        """The new card's record id and the certificate kinds the office certifies for it."""
        body = {"applet_serial": applet_serial.hex(), "expires_at": expires_at}
        answer = self._portal._call("POST", f"/operator/v1/persons/{person_id}/cards", json=body)
        return str(answer["card_id"]), frozenset(str(k) for k in answer["certificates"])

    def abandon_card(self, card_id: str) -> list[str]:
        return list(self._portal._call("POST", f"/operator/v1/cards/{card_id}/abandon")["serials"])

    def certify_card_key(self, card_id: str, kind: str, spki: bytes) -> bytes:
        body = {"kind": kind, "public_key": _b64(spki)}
        answer = self._portal._call("POST", f"/operator/v1/cards/{card_id}/certificates", json=body)
        return base64.b64decode(answer["certificate"])

    def replace_card(self, card_id: str) -> list[str]:
        return list(self._portal._call("POST", f"/operator/v1/cards/{card_id}/replace")["serials"])

    def release_card(self, person_id: str) -> list[str]:
        return list(
            self._portal._call("POST", f"/operator/v1/persons/{person_id}/card-release")["serials"]
        )

    def clock(self) -> dict[str, Any]:
        """The service's time (``now``) and whether it may be moved (``movable``)."""
        result: dict[str, Any] = self._portal._call("GET", "/operator/v1/clock")
        return result

    def advance_clock(self, seconds: int) -> str:
        """Sandbox only: move the service's clock forward; returns the new time (ISO 8601).
        A wall clock answers 409 (``conflict``)."""
        body = {"seconds": seconds}
        return str(self._portal._call("POST", "/operator/v1/clock/advance", json=body)["now"])

    def hold_phone(self, person_id: str) -> list[str]:
        return list(
            self._portal._call("POST", f"/operator/v1/persons/{person_id}/phone-hold")["serials"]
        )
