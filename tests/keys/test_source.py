"""Secret sources: env:NAME and file:PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobile_jpki.keys import SecretSource, SecretUnavailable


def test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JPKI_TEST_SECRET", "s3cret")
    source = SecretSource.parse("env:JPKI_TEST_SECRET")
    assert source.read() == b"s3cret"
    assert str(source) == "env:JPKI_TEST_SECRET"  # the reference, never the value
    monkeypatch.delenv("JPKI_TEST_SECRET")
    with pytest.raises(SecretUnavailable, match="env:JPKI_TEST_SECRET"):
        source.read()


def test_file(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"pass phrase\n")
    assert SecretSource.parse(f"file:{path}").read() == b"pass phrase"
    path.write_bytes(b"crlf\r\n")
    assert SecretSource("file", str(path)).read() == b"crlf"
    path.write_bytes(b"\n")
    with pytest.raises(SecretUnavailable, match="empty"):
        SecretSource("file", str(path)).read()
    with pytest.raises(SecretUnavailable):
        SecretSource("file", str(tmp_path / "missing")).read()


@pytest.mark.parametrize("spec", ["PASSWORD", "literal:pw", "env:", "file:"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        SecretSource.parse(spec)
