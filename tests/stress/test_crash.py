"""Crash safety: model changes and revocations against a real ``mobile-jpki serve`` that is
SIGKILLed at random (seeded) moments and restarted on the same data directory.

What a kill may cost: the request in flight (the client sees a broken connection and must
retry). What it must never cost: an acknowledged revocation, a second holder, an unaudited
certificate, a broken chain, a half-written chip state file, or an issuance job that never
completes. The worker runs inside ``serve``, so a kill mid-job is among the moments hit.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.phone.steps import ScriptedPhone

from .stress_harness import (
    BOTH,
    PHONE_PASSWORD,
    POSTGRES_ENV,
    Deployment,
    Resident,
    apply,
    audited_issues,
    cert_rows,
    chain_failures,
    first_phone,
    half_written_states,
    make_deployment,
    new_phone,
    new_resident,
    register,
    revocation_seen,
    roots,
    two_holders,
    wait_ready,
)

SEED = 20261127
KILLS = 6
RESIDENTS = 4


@dataclass
class Ledger:
    """What the clients were told (2xx received before any kill)."""

    acked_revocations: set[str] = field(default_factory=set)
    accepted: dict[str, ScriptedPhone] = field(default_factory=dict)  # person -> latest
    registered: set[str] = field(default_factory=set)  # device ids
    server_errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    transport_failures: int = 0
    operations: int = 0


def _drive(
    dep: Deployment, residents: list[Resident], ledger: Ledger, stop: threading.Event
) -> None:
    rng = random.Random(SEED + 1)
    holders: dict[str, ScriptedPhone | None] = {r.person_id: r.phones[-1] for r in residents}
    n = 0
    with dep.client(timeout=15) as http:
        for phone in holders.values():
            if phone is not None:
                phone.api.http = http  # the set-up client is closed
        while not stop.is_set():
            resident = rng.choice(residents)
            holder = holders[resident.person_id]
            ledger.operations += 1
            try:
                if holder is not None and rng.random() < 0.25:
                    # 失効 from the phone itself: the answer lists the revoked serials.
                    serials = holder.revoke(sign_password=PHONE_PASSWORD, certificates=BOTH)
                    ledger.acked_revocations.update(serials)
                    holders[resident.person_id] = None
                    continue
                n += 1
                phone = new_phone(dep, http, f"crash-{n}", files=True)
                apply(phone, resident, model_change=holder is not None)
                ledger.accepted[resident.person_id] = phone
                if wait_ready(phone, timeout=8):
                    register(phone)
                    assert phone.device_id is not None
                    ledger.registered.add(phone.device_id)
                    holders[resident.person_id] = phone
            except PortalProblem as problem:
                if problem.status >= 500:
                    ledger.server_errors.append(str(problem))
                else:
                    ledger.refusals.append(problem.code)
            except httpx.TransportError:
                ledger.transport_failures += 1
                time.sleep(0.3)
            except Exception as exc:
                ledger.unexpected.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.3)


def _crash_run(tmp_path: Path, database_url: str | None) -> None:
    dep = make_deployment(tmp_path / "data", database_url=database_url)
    dep.serve.start()
    try:
        with dep.client() as http:
            residents = [new_resident(dep, http, f"card-{i}", files=True) for i in range(RESIDENTS)]
            for i, resident in enumerate(residents):
                first_phone(dep, http, resident, f"first-{i}", files=True)
        ledger = Ledger()
        stop = threading.Event()
        driver = threading.Thread(target=_drive, args=(dep, residents, ledger, stop))
        driver.start()
        rng = random.Random(SEED)
        try:
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.5, 2.5))
                dep.serve.kill()
                time.sleep(rng.uniform(0.0, 0.4))
                dep.serve.start()
            time.sleep(2)
        finally:
            stop.set()
            driver.join(timeout=120)
        assert not driver.is_alive()
        _check(dep, ledger)
    finally:
        dep.serve.stop()


def _check(dep: Deployment, ledger: Ledger) -> None:
    print(  # shown with -s: what the run went through
        f"kills={KILLS} operations={ledger.operations} accepted={len(ledger.accepted)} "
        f"registered={len(ledger.registered)} acked_revocations={len(ledger.acked_revocations)} "
        f"transport_failures={ledger.transport_failures} refusals={sorted(set(ledger.refusals))}"
    )
    assert ledger.server_errors == []
    assert ledger.unexpected == []
    assert ledger.operations > KILLS  # the clients really ran between the kills
    # Killed jobs complete after the restart: each person's latest accepted application that
    # was not registered reaches 「登録準備が完了しています」 for each certificate, or 「登録済み」
    # where a registration cut short by a kill installed one certificate of the two.
    with dep.client() as http:
        for phone in ledger.accepted.values():
            if phone.device_id not in ledger.registered:
                phone.api.http = http  # the driver's client is closed
                ready = wait_ready(phone, timeout=30, or_registered=True)
                assert ready, f"{phone.device_id} never became ready"
    db = dep.database()
    try:
        rows = cert_rows(db)
        cas = roots(db)
        assert two_holders(rows) == {}
        ok, issued, _ = audited_issues(db)
        assert ok, "the audit chain does not verify"
        assert {r.serial for r in rows} <= issued, "a certificate without its audit record"
        assert chain_failures(rows, cas) == []
        by_serial = {r.serial: r for r in rows}
        for serial in ledger.acked_revocations:
            assert by_serial[serial].status == "revoked", serial
        revoked = [r for r in rows if r.kind.startswith("phone-") and r.status == "revoked"]
        assert ledger.acked_revocations <= {r.serial for r in revoked}
        with dep.client() as http:
            for row in revoked:
                cert = x509.load_der_x509_certificate(row.der)
                assert revocation_seen(http, cert, cas[row.ca_id]) == (True, True), row.serial
    finally:
        db.dispose()
    assert half_written_states(dep.data_dir) == []


@pytest.mark.slow
def test_sigkill_during_model_changes_sqlite(tmp_path: Path) -> None:
    _crash_run(tmp_path, None)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_during_model_changes_postgres(tmp_path: Path) -> None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} not set")
    _crash_run(tmp_path, url)
