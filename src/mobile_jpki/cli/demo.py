"""``mobile-jpki demo``: the seed's scenario end to end, each step shown as it happens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mobile_jpki.clock import SystemClock
from mobile_jpki.demo.scenario import Demo, DemoError, DemoResult

console = Console()
err = Console(stderr=True, soft_wrap=True)


class RichReporter:
    def __init__(self) -> None:
        self._n = 0
        self._t0 = time.monotonic()

    def step(self, title: str) -> None:
        self._n += 1
        console.rule(f"[bold]{self._n}. {title}", align="left")

    def detail(self, text: str) -> None:
        console.print(f"  [dim]{time.monotonic() - self._t0:5.1f}s[/dim]  {text}")


def _table(result: DemoResult) -> Table:
    table = Table(title="Where each certificate is, and what OCSP says")
    table.add_column("certificate")
    table.add_column("serial", overflow="fold")
    table.add_column("where")
    table.add_column("OCSP")
    for row in result.holdings:
        colour = "green" if row.ocsp.startswith("good") else "red"
        table.add_row(row.name, f"{row.serial:x}", row.where, f"[{colour}]{row.ocsp}[/{colour}]")
    return table


def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Directory to create (must be new or empty).")
    ] = Path("mobile-jpki-data"),
    base_url: Annotated[
        str,
        typer.Option("--base-url", help="Base of the OCSP/CRL URLs written into the certificates."),
    ] = "http://127.0.0.1:8000",
) -> None:
    """Run the seed's scenario end to end on the embedded default (SQLite + key files).

    A municipal office issues a My Number Card; old-phone applies for and registers both
    smartphone certificates; new-phone does the model change (機種変更) and the old phone's
    certificates are revoked; old-phone comes online within 48 hours and deletes them;
    new-phone signs a PDF and a relying party verifies it through OCSP.

    Leaves DATA_DIR for `mobile-jpki serve`, with PEM files and secrets.json in DATA_DIR/export.
    """
    reporter = RichReporter()
    try:
        result = Demo(data_dir, base_url=base_url, clock=SystemClock(), reporter=reporter).run()
    except DemoError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print()
    console.print(_table(result))
    console.print(f"signed PDF: {result.pdf_verdict}")
    console.print(
        f"exported to {data_dir / 'export'}: " + ", ".join(p.name for p in result.exported)
    )
    console.print(f"next: [bold]mobile-jpki serve --data-dir {data_dir}[/bold]")
