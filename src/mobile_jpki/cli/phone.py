"""``mobile-jpki phone``: the emulated phone's secure element (the JPKI applet in it).

Exit codes as ``mobile-jpki card`` (see :mod:`mobile_jpki.cli.card`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mobile_jpki.cli.card import (
    DataDir,
    OptDataDir,
    OutFile,
    Password,
    VpcdHost,
    VpcdPort,
    Which,
    cli_errors,
    do_read_cert,
    open_connection,
    run_vpcd,
    show_info,
)
from mobile_jpki.reader.emulated import DeviceKind, list_devices
from mobile_jpki.reader.vpcd import DEFAULT_HOST, DEFAULT_PORT

app = typer.Typer(
    help="The emulated phone secure element: attach it to a PC/SC reader (vpcd) or inspect it.",
    no_args_is_help=True,
)

PhoneId = Annotated[str, typer.Option("--phone", help="Id of the emulated phone.")]


@app.command("vpcd")
def vpcd(
    data_dir: DataDir,
    phone: PhoneId = "phone",
    vpcd_host: VpcdHost = DEFAULT_HOST,
    vpcd_port: VpcdPort = DEFAULT_PORT,
) -> None:
    """Put a phone's secure element into vpcd's virtual reader (it answers the card's ATR,
    so PC/SC tools and OpenSC treat it like a My Number Card).

    The demo's phones are `old-phone` and `new-phone`. On a phone the auth certificate needs
    the auth PIN before it can be read. Ctrl-C or SIGTERM takes it out.
    """
    run_vpcd(DeviceKind.PHONE, data_dir, phone, vpcd_host, vpcd_port)


@app.command("list")
def list_phones(data_dir: DataDir) -> None:
    """List the emulated phones of a data directory."""
    for name in list_devices(data_dir, DeviceKind.PHONE):
        typer.echo(name)


@app.command("info")
def info(data_dir: OptDataDir = None, phone: PhoneId = "phone") -> None:
    """Token label, certificates present and tries left. Costs no password try."""
    with cli_errors():
        conn = open_connection(DeviceKind.PHONE, data_dir, phone, False, None)
        try:
            show_info(conn)
        finally:
            conn.close()


@app.command("read-cert")
def read_cert(
    which: Which,
    out: OutFile = None,
    data_dir: OptDataDir = None,
    phone: PhoneId = "phone",
    password: Password = None,
) -> None:
    """Read a certificate and print it as PEM. On a phone both end-entity certificates need
    their secret first: --password is the signing password (sign) or the auth PIN (auth)."""
    do_read_cert(DeviceKind.PHONE, which, out, data_dir, phone, password, False, None)


__all__ = ["app"]
