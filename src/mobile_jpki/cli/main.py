"""The ``mobile-jpki`` command: a thin edge that parses, calls a use case and renders."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="mobile-jpki",
    help="A faithful local JPKI: My Number Card and phone secure-element emulators, "
    "the certificate authority with OCSP and CRLs, and the smartphone-certificate service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """mobile-jpki: run `mobile-jpki demo` first, then `mobile-jpki serve`."""


def main() -> None:
    app()
