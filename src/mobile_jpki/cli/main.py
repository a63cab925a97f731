"""The ``mobile-jpki`` command: a thin edge that parses, calls a use case and renders.

Subcommands are imported when they are run (or listed by ``--help``), not all at start-up:
``mobile-jpki ca crl`` should not pay for FastAPI, pyHanko and the demo (measured: importing
every subcommand cost ~2.8 CPU s against ~0.9 for ``ca`` alone). Click's documented pattern
for this is a group whose ``get_command`` imports on demand ("Lazily Loading Subcommands").
"""

from __future__ import annotations

import importlib

import typer

# Typer vendors its own click (typer._click); its groups and commands are of those classes.
from typer import _click as click
from typer.core import TyperGroup

# name -> (module, attribute): a Typer sub-application, or a command function.
_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("mobile_jpki.cli.demo", "demo"),
    "ca": ("mobile_jpki.cli.ca", "app"),
    "card": ("mobile_jpki.cli.card", "app"),
    "clock": ("mobile_jpki.cli.clock", "app"),
    "office": ("mobile_jpki.cli.office", "app"),
    "phone": ("mobile_jpki.cli.phone", "app"),
    "rp": ("mobile_jpki.cli.rp", "app"),
    "serve": ("mobile_jpki.cli.serve", "serve"),
    "verify": ("mobile_jpki.cli.verify", "app"),
}


class _LazyGroup(TyperGroup):
    """The root group: each subcommand's module is imported the first time it is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *_SUBCOMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _SUBCOMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = _SUBCOMMANDS[cmd_name]
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            # get_group, not get_command: shell completion options belong to the root only.
            command: click.Command = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(target)
            command = typer.main.get_command(single)
        command.name = cmd_name
        return command


app = typer.Typer(
    name="mobile-jpki",
    cls=_LazyGroup,
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
