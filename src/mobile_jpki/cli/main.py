"""The ``mobile-jpki`` command: a thin edge that parses, calls a use case and renders."""

from __future__ import annotations

import typer

from mobile_jpki.cli import ca as ca_cli
from mobile_jpki.cli import card as card_cli
from mobile_jpki.cli import demo as demo_cli
from mobile_jpki.cli import office as office_cli
from mobile_jpki.cli import phone as phone_cli
from mobile_jpki.cli import serve as serve_cli
from mobile_jpki.cli import verify as verify_cli

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


app.command("demo")(demo_cli.demo)
app.add_typer(ca_cli.app, name="ca")
app.add_typer(card_cli.app, name="card")
app.add_typer(office_cli.app, name="office")
app.add_typer(phone_cli.app, name="phone")
app.command("serve")(serve_cli.serve)
app.add_typer(verify_cli.app, name="verify")


def main() -> None:
    app()
