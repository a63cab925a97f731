"""The portal's refusals as HTTP: one table (api.problems.PORTAL_PROBLEMS) covers every error
type, and the statuses and codes the app and the CLI rely on stay as they are."""

from __future__ import annotations

import json

from mobile_jpki.api.problems import PORTAL_PROBLEMS, portal_problem
from mobile_jpki.service.portal import errors as E

# code -> status, as answered before the table moved out of the errors (the app and the CLI
# match on these).
ANSWERED = {
    "bad-request": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not-found": 404,
    "conflict": 409,
    "rate-limited": 429,
    "invalid-request": 422,
    "signature-invalid": 422,
    "card-certificate-unknown": 422,
    "card-certificate-revoked": 422,
    "card-certificate-held": 422,
    "card-certificate-expired": 422,
    "nonce-unknown": 422,
    "nonce-expired": 422,
    "nonce-used": 409,
    "stale-signature": 422,
    "terms-outdated": 422,
    "attestation-invalid": 422,
    "not-eligible": 422,
    "revoke-consent-required": 409,
    "application-in-progress": 409,
    "device-enrolled": 409,
    "device-mismatch": 403,
    "instruction-expired": 410,
    "installation-proof-invalid": 422,
}


def _all_errors() -> list[type[E.PortalError]]:
    found: list[type[E.PortalError]] = [E.PortalError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return found


def test_every_portal_error_has_its_row_and_a_unique_code() -> None:
    errors = _all_errors()
    assert set(errors) == set(PORTAL_PROBLEMS)
    assert len({e.code for e in errors}) == len(errors)


def test_statuses_and_codes_are_unchanged() -> None:
    assert {e.code: PORTAL_PROBLEMS[e][0] for e in PORTAL_PROBLEMS} == ANSWERED


def test_the_answer_is_problem_json_with_its_headers() -> None:
    response = portal_problem(E.RateLimited("too many attempts", retry_after=7))
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "7"
    assert json.loads(response.body) == {
        "type": "urn:mobile-jpki:problem:rate-limited",
        "title": "Too many attempts; try again later",
        "status": 429,
        "detail": "too many attempts",
        "code": "rate-limited",
        "retry_after": 7,
    }
    assert portal_problem(E.Unauthenticated("no")).headers["www-authenticate"] == "Bearer"
