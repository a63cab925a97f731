"""The applet's refusals: each carries the status word it is answered with."""

from __future__ import annotations


class AppletError(Exception):
    """Base of the applet's errors; each carries the status word it is answered with."""

    def __init__(self, sw: int, message: str = "") -> None:
        super().__init__(message or f"SW {sw:04X}")
        self.sw = sw
