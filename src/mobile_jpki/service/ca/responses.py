"""OCSP answers as this CA signs them, for issuance (the pre-signed "good"), revocation (the
re-signed answer that commits with the change) and the responder (stale, nonce, several
certificates). Pure: values in, values out, so they run on the signing pool."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mobile_jpki.pki import ocsp
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca.values import reason_of
from mobile_jpki.settings import Settings
from mobile_jpki.store.models import Certificate, CertRecordStatus, serial_hex

# What an OCSP answer says about a certificate: status, revocation time, reason code.
CertState = tuple[CertRecordStatus, dt.datetime | None, int | None]
GOOD: CertState = (CertRecordStatus.GOOD, None, None)

IssuerKey = tuple[ocsp.HashAlgorithm, bytes, bytes]  # (algorithm, issuerNameHash, issuerKeyHash)


def state_of(row: Certificate) -> CertState:
    return CertRecordStatus(row.status), row.revoked_at, row.reason


class ResponseSigner:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def single(
        self,
        cert_id: ocsp.CertId,
        state: CertState | None,
        now: dt.datetime,
        responder: ocsp.Responder,
    ) -> ocsp.SingleAnswer:
        """The answer for one certificate in ``state`` (``None``: never issued by this CA)."""
        # nextUpdate never beyond the responder certificate (a response must stay verifiable
        # for its whole validity).
        next_update = min(
            now + self._settings.ocsp_validity, responder.certificate.not_valid_after_utc
        )
        if state is None:
            return ocsp.SingleAnswer(cert_id, ocsp.CertStatus.UNKNOWN, now, next_update)
        status, revoked_at, reason_code = state
        if status is CertRecordStatus.GOOD:
            return ocsp.SingleAnswer(cert_id, ocsp.CertStatus.GOOD, now, next_update)
        reason = (
            Reason.CERTIFICATE_HOLD if status is CertRecordStatus.HELD else reason_of(reason_code)
        )
        return ocsp.SingleAnswer(
            cert_id,
            ocsp.CertStatus.REVOKED,
            now,
            next_update,
            revoked_at=revoked_at,
            reason=reason,
        )

    def stored(
        self,
        issuer_key: IssuerKey,
        serial: int,
        rid: int,
        responder: ocsp.Responder,
        now: dt.datetime,
        state: CertState,
    ) -> dict[str, Any]:
        """The stored RFC 5019 response (SHA-1 CertID, no nonce) of a certificate in
        ``state``, as the column values of ``ocsp_response``."""
        alg, name_hash, key_hash = issuer_key
        answer = self.single(ocsp.CertId(alg, name_hash, key_hash, serial), state, now, responder)
        der = ocsp.build_response(responder=responder, answers=[answer], produced_at=now)
        return {
            "serial": serial_hex(serial),
            "der": der,
            "this_update": answer.this_update,
            "next_update": answer.next_update,
            "produced_at": now,
            "responder_id": rid,
        }
