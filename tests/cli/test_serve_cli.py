"""``mobile-jpki serve`` refuses a missing data directory with one line and exit 5 (the
running server itself is exercised by tests/api through this command)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mobile_jpki.cli.main import app


def test_missing_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 5
    assert result.output.startswith("error:") and "ca init" in result.output
    assert "Traceback" not in result.output


def test_help() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--database-url" in result.output


def test_bad_max_body_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--data-dir", str(tmp_path), "--max-body", "/tsa=lots"]
    )
    assert result.exit_code == 2
    assert result.output.startswith("error: max body") and "Traceback" not in result.output
    assert "--max-body" in CliRunner().invoke(app, ["serve", "--help"]).output
