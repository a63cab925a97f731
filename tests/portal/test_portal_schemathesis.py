"""Property-based run over the portal's OpenAPI document (schemathesis, bounded): whatever a
client sends, the service answers 2xx/4xx, never 5xx. Authenticated as a real device and a
real operator so the generated cases reach the use cases, not only the auth check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portal_world import World

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# api/ocsp.py describes OCSP request bodies as application/ocsp-request (DER): any bytes.
schemathesis.openapi.media_type("application/ocsp-request", st.binary(max_size=256))


def _checker(operation: Any, token: str, failures: list[str]) -> Callable[[], None]:
    @settings(
        max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

    return check


def test_no_server_errors_for_generated_requests(world: World) -> None:
    phone = world.new_phone("fuzz")
    assert phone.api.credential is not None
    operator_key = world.service.create_api_key(name="fuzz", role="office", now=world.clock.now())[
        1
    ]
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    failures: list[str] = []
    tested: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # The SSE stream never ends (covered over TCP); the simulator is HTML for a browser
        # (tests/web). Everything else on the one app is here: portal, operator, OCSP, CRL.
        if operation.path.startswith("/simulator") or operation.path.endswith("/events"):
            continue
        token = operator_key if operation.path.startswith("/operator") else phone.api.credential
        _checker(operation, token, failures)()
        tested.append(operation.path)
    assert len(tested) >= 20
    assert any(p.startswith("/ocsp/") for p in tested)
    assert any(p.startswith("/crl/") for p in tested)
    assert failures == []
