"""Where a passphrase or PIN comes from: ``env:NAME`` or ``file:PATH``, never the config itself."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mobile_jpki.keys.errors import SecretUnavailable


@dataclass(frozen=True)
class SecretSource:
    """A reference to a secret. ``str()`` shows the reference, never the secret."""

    kind: str  # "env" or "file"
    name: str

    def __post_init__(self) -> None:
        if self.kind not in ("env", "file") or not self.name:
            raise ValueError(f"secret source must be env:NAME or file:PATH, not {self}")

    @classmethod
    def parse(cls, spec: str) -> SecretSource:
        kind, sep, name = spec.partition(":")
        if not sep:
            raise ValueError(f"secret source {spec!r} must be env:NAME or file:PATH")
        return cls(kind, name)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    def read(self) -> bytes:
        """The secret's bytes. A file's single trailing newline is dropped (``echo pw > f``)."""
        if self.kind == "env":
            value = os.environ.get(self.name)
            if not value:
                raise SecretUnavailable(str(self), "environment variable unset or empty")
            return value.encode()
        try:
            data = Path(self.name).read_bytes()
        except OSError as exc:
            raise SecretUnavailable(str(self), exc.strerror or str(exc)) from None
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        if not data:
            raise SecretUnavailable(str(self), "file is empty")
        return data
