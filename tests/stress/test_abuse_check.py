"""``scripts/abuse-check`` pointed at ``mobile-jpki serve`` running as its own process, the way a
reviewer runs it (issue 16, "Done when": the abuse checks run as one script against a running
server). On today's code every check passes; each FAIL line would name what a stranger got
through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile_jpki.clock import SystemClock
from mobile_jpki.service.ca.bootstrap import init_data_dir

from .stress_harness import Serve, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "abuse-check"
CHECKS = (
    "big-bodies",
    "anonymous-simulator",
    "replayed-instruction",
    "lockout",
    "enrolment-flood",
    "nonce-flood",
    "security-headers",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """A plain ``serve`` (no simulator) on a fresh data directory."""
    data_dir = tmp_path_factory.mktemp("abuse-check") / "data"
    port = free_port()
    init_data_dir(data_dir, SystemClock().now(), base_url=f"http://127.0.0.1:{port}")
    serve = Serve(data_dir, port)
    serve.start()
    try:
        yield serve
    finally:
        serve.stop()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_every_check_passes_against_a_plain_serve_with_its_data_dir(server: Serve) -> None:
    assert server.proc is not None
    done = run(
        "--base-url",
        server.url,
        "--data-dir",
        str(server.data_dir),
        "--pid",
        str(server.proc.pid),
    )
    print(done.stdout)
    lines = [line for line in done.stdout.splitlines() if not line.startswith("cleanup:")]
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split(" ", 2)[:2] for line in lines] == [["PASS", f"{c}:"] for c in CHECKS]
    assert all(" → " in line for line in lines)
    # What the lines say they saw, for the checks whose wording carries the figure.
    by_name = {line.split(" ", 2)[1].rstrip(":"): line for line in lines}
    assert "answered 413 problem+json" in by_name["big-bodies"]
    assert "RSS" in by_name["big-bodies"]  # --pid given: the server's memory is reported
    assert "404 problem+json (sandbox off); no person" in by_name["anonymous-simulator"]
    assert by_name["replayed-instruction"].count("→ 69 82") == 3
    assert "the owner from 127.0.0.2" in by_name["lockout"]
    assert "1 device id" in by_name["enrolment-flood"]
    assert "409 device-enrolled" in by_name["enrolment-flood"]
    # The run closed what it made, as a sandbox session is closed.
    assert done.stdout.splitlines()[-1].startswith("cleanup: ")
    assert "API key revoked" in done.stdout


def test_without_a_data_dir_the_device_checks_skip_and_say_why(server: Serve) -> None:
    done = run("--base-url", server.url, "--json", "--flood", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert report["ok"] is True
    assert status == {
        "big-bodies": "PASS",  # OCSP asked with garbage: malformedRequest
        "anonymous-simulator": "PASS",
        "replayed-instruction": "SKIP",
        "lockout": "SKIP",
        "enrolment-flood": "SKIP",
        "nonce-flood": "SKIP",
        "security-headers": "PASS",
    }
    skipped = [c["seen"] for c in report["checks"] if c["status"] == "SKIP"]
    assert all(reason.startswith("needs --data-dir") for reason in skipped)


def test_usage_errors_exit_2_in_one_line() -> None:
    missing = run()
    assert missing.returncode == 2
    assert "--base-url is required" in missing.stderr
    unreachable = run("--base-url", f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 2
    assert unreachable.stderr.count("\n") == 1
    assert "cannot reach" in unreachable.stderr
