"""``mobile-jpki serve`` refuses a missing data directory with one line and exit 5 (the
running server itself is exercised by tests/api through this command)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobile_jpki.cli.main import app
from mobile_jpki.web.sandbox import SimulatorLimits


def test_missing_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 5
    assert result.output.startswith("error:") and "ca init" in result.output
    assert "Traceback" not in result.output


def test_help() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--database-url" in result.output


def _serve_args(tmp_path: Path) -> list[str]:
    import datetime as dt

    from mobile_jpki.service.ca.bootstrap import init_data_dir

    settings, _ = init_data_dir(tmp_path / "data", dt.datetime.now(dt.UTC))
    return ["serve", "--data-dir", str(settings.data_dir)]


def test_simulator_is_off_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import uvicorn

    from mobile_jpki.api.app import DATA_DIR_ENV, SIMULATOR_ON_ENV

    seen: list[str | None] = []
    monkeypatch.setattr(
        uvicorn, "run", lambda *a, **k: seen.append(os.environ.get(SIMULATOR_ON_ENV))
    )
    # Inherited from the shell: must not turn the sandbox on behind the operator's back.
    monkeypatch.setenv(SIMULATOR_ON_ENV, "{}")
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)  # serve sets it for its workers
    args = _serve_args(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen == [None]
    assert "simulator off" in result.output and "--simulator" in result.output

    result = CliRunner().invoke(
        app,
        [*args, "--simulator", "--simulator-max-sessions", "3", "--simulator-idle-minutes", "5"],
    )
    assert result.exit_code == 0, result.output
    limits = SimulatorLimits.from_json(seen[-1] or "")
    assert (limits.max_sessions, limits.idle_seconds) == (3, 300)
    assert limits.per_client_per_minute == SimulatorLimits().per_client_per_minute
    assert "SANDBOX" in result.output and "/simulator/" in result.output
    assert "sticky sessions" in result.output  # issue 19 §2: said at start-up


def test_simulator_needs_one_worker(tmp_path: Path) -> None:
    args = _serve_args(tmp_path)
    result = CliRunner().invoke(app, [*args, "--simulator", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers 1" in result.output and "Traceback" not in result.output


def test_bad_max_body_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--data-dir", str(tmp_path), "--max-body", "/tsa=lots"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: max body") and "Traceback" not in result.output
    assert "--max-body" in CliRunner().invoke(app, ["serve", "--help"]).output
