"""Using a phone's secure element: as a PC/SC reader (``vpcd``), listed and inspected
(``list``, ``info``, ``read-cert``), and for signing a PDF with its signing key (``sign-pdf``).

The commands are registered on the ``phone`` app in :mod:`mobile_jpki.cli.phone`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.cli import office
from mobile_jpki.cli.card import (
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_SETUP,
    EXIT_USAGE,
    DataDir,
    OptDataDir,
    OutFile,
    Password,
    VpcdHost,
    VpcdPort,
    Which,
    cli_errors,
    do_read_cert,
    fail,
    open_connection,
    run_vpcd,
    show_info,
)
from mobile_jpki.cli.office import BaseUrl, Service, secret
from mobile_jpki.cli.phone.session import PhoneReq, launch
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.emulated import DeviceKind, list_devices
from mobile_jpki.reader.passwords import normalise_sign_password
from mobile_jpki.reader.vpcd import DEFAULT_HOST, DEFAULT_PORT

PhoneId = Annotated[str, typer.Option("--phone", help="Id of the emulated phone.")]


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


def list_phones(data_dir: DataDir) -> None:
    """List the emulated phones of a data directory."""
    for name in list_devices(data_dir, DeviceKind.PHONE):
        typer.echo(name)


def info(data_dir: OptDataDir = None, phone: PhoneId = "phone") -> None:
    """Token label, certificates present and tries left. Costs no password try."""
    with cli_errors():
        conn = open_connection(DeviceKind.PHONE, data_dir, phone, False, None)
        try:
            show_info(conn)
        finally:
            conn.close()


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


def sign_pdf_cmd(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help="The PDF to sign.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write it signed.")],
    data_dir: DataDir,
    phone: PhoneReq,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="The phone signing password. Prompted (hidden) when absent.",
            envvar="MOBILE_JPKI_PHONE_PASSWORD",
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="PAdES level B-B, B-T or B-LT (default: B-T when the service serves /tsa, "
            "else B-B).",
        ),
    ] = None,
    base_url: BaseUrl = None,
) -> None:
    """Sign a PDF (PAdES) with the phone's signing key, inside its secure element: the
    registered 署名用電子証明書 after seed ⑬."""
    from mobile_jpki.reader.key import ApduRSAPrivateKey
    from mobile_jpki.signing.pdf import Level, PdfSigningError, sign_pdf
    from mobile_jpki.verify.certificate import TrustAnchors

    levels = {lv.value: lv for lv in Level}
    if level is not None and level not in levels:
        fail(f"--level is one of {', '.join(levels)}", EXIT_USAGE)
    if not in_path.is_file():
        fail(f"{in_path}: no such file", EXIT_NOT_FOUND)
    with launch(data_dir, phone, base_url) as run:
        value = normalise_sign_password(
            secret(password, flag="--password", prompt="Phone signing password")
        )
        tsa = _tsa_url(run.svc)
        chosen = levels[level] if level else (Level.B_T if tsa else Level.B_B)
        if chosen is not Level.B_B and tsa is None:
            fail(f"{chosen.value} needs a time-stamp service; this service has no /tsa",
                 EXIT_USAGE)  # fmt: skip
        element = run.phone.element
        element.select_ap()
        element.verify(Hierarchy.SIGN, value)
        cert = element.read_certificate(Hierarchy.SIGN)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            fail("the phone's signing certificate is not RSA", EXIT_SETUP)
        info = run.phone.api.info()
        import base64

        roots = tuple(x509.load_der_x509_certificate(base64.b64decode(d)) for d in info["sign_ca"])
        root = TrustAnchors(roots).issuer_of(cert)
        try:
            sign_pdf(
                in_path, out_path, ApduRSAPrivateKey(element, Hierarchy.SIGN, public), cert,
                [root] if root is not None else [], level=chosen, tsa_url=tsa,
                now=office.clock.now(),
            )  # fmt: skip
        except PdfSigningError as exc:
            fail(f"cannot sign {in_path}: {exc}", EXIT_REFUSED)
    typer.echo(f"{out_path}: signed ({chosen.value}) by serial {cert.serial_number:x}")


def _tsa_url(svc: Service) -> str | None:
    """``{base_url}/tsa`` only when the service serves it (POST-only: a GET answers 405)."""
    base = svc.base_url or (svc.system.settings.base_url if svc.system is not None else None)
    if base is None:
        return None
    if svc.system is not None:
        served = any(getattr(r, "path", None) == "/tsa" for r in svc.system.app.routes)
        return f"{base.rstrip('/')}/tsa" if served else None
    response = svc.http.get("/tsa")
    return None if response.status_code == 404 else f"{base.rstrip('/')}/tsa"
