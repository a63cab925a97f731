"""``mobile-jpki clock``: show or move the clock of a sandbox data directory, so QA can show
the 48-hour rule (JPKI-FACTS "One phone per person") on the real portal.

An operator action on the data directory: ``serve`` (every worker) and every CLI command on the
same data directory read the stored offset within a second (store.clock_offset). A data
directory that is not a sandbox (``ca init`` without ``--sandbox``) refuses: a real CA's clock
is the wall clock, always.

Exit codes (the scheme of docs/cli.md): 0 success; 2 usage error (a DURATION that is not one);
4 refused (not a sandbox data directory); 5 data directory or database problem.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from mobile_jpki.clock import SandboxClock
from mobile_jpki.settings import Settings, SettingsError
from mobile_jpki.store.clock_offset import NotASandbox, sandbox_clock
from mobile_jpki.store.db import Database, StoreError

EXIT_USAGE, EXIT_REFUSED, EXIT_SETUP = 2, 4, 5

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", help="Sandbox data directory.", envvar="MOBILE_JPKI_DATA_DIR"),
]

app = typer.Typer(
    help="The clock of a sandbox data directory (ca init --sandbox, demo): show it, move it "
    "forward (the 48-hour rule on the real portal), or reset it to the wall clock.",
    no_args_is_help=True,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+)([smhd])")


def parse_duration(text: str) -> dt.timedelta:
    """``49h``, ``30m``, ``2d``, ``1d2h30m``, ``90s``: a positive duration."""
    value = text.strip().lower()
    parts = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"{text!r} is not a duration: use e.g. 49h, 30m, 2d or 1d2h")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("the clock only moves forward: give a positive duration")
    return dt.timedelta(seconds=seconds)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _clock(data_dir: Path) -> Iterator[SandboxClock]:
    try:
        settings = Settings.load(data_dir)
        db = Database(settings.effective_database_url)
    except (SettingsError, StoreError) as exc:
        _fail(str(exc), EXIT_SETUP)
    try:
        clock = sandbox_clock(settings, db)
        db.migrate()  # the sandbox_clock table of a data directory made before it existed
        yield clock
    except NotASandbox as exc:
        _fail(str(exc), EXIT_REFUSED)
    except StoreError as exc:
        _fail(str(exc), EXIT_SETUP)
    finally:
        db.dispose()


def _show(clock: SandboxClock) -> None:
    offset = clock.offset()
    now = clock.now()
    typer.echo(f"now {now.isoformat()} (wall clock + {_human(offset)})")


def _human(offset: dt.timedelta) -> str:
    seconds = int(offset.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "".join(f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v)
    return out + (f"{seconds}s" if seconds or not out else "")


@app.command()
def show(data_dir: DataDir) -> None:
    """The sandbox's current time and how far it runs ahead of the wall clock."""
    with _clock(data_dir) as clock:
        _show(clock)


@app.command()
def advance(
    duration: Annotated[str, typer.Argument(help="How far: 49h, 30m, 2d, 1d2h.")],
    data_dir: DataDir,
) -> None:
    """Move the sandbox's clock forward (serve and the CLI follow within a second)."""
    try:
        delta = parse_duration(duration)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    with _clock(data_dir) as clock:
        clock.advance(delta)
        _show(clock)


@app.command()
def reset(data_dir: DataDir) -> None:
    """Back to the wall clock. What was made in the moved time keeps its dates (see
    docs/cli.md): certificates not yet valid, CRLs and OCSP answers dated ahead."""
    with _clock(data_dir) as clock:
        moved = clock.offset()
        clock.reset()
        _show(clock)
    if moved:
        typer.echo(
            f"warning: objects made in the last {_human(moved)} of moved time stay dated ahead "
            "of the wall clock; a fresh sandbox is cleaner",
            err=True,
        )
