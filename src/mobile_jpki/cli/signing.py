"""What the signing commands share (``phone sign-pdf``, ``phone sign-cms``, ``card sign-cms``):
reading the input with one-line errors, the certificate-status gate before the key is used, and
the CMS signature itself, written as DER or PEM.

The status gate (docs/cli.md "Signing"): a signature made with a revoked or held certificate is
worthless to every relying party, and making one anyway lets a thief or a former phone owner
produce documents that look signed until someone checks. So every signing command asks the CA
(OCSP, then the CRL: :func:`mobile_jpki.verify.revocation.check_revocation`, responses
signature-checked as a relying party would) *before* the key signs, and refuses a revoked, held
(certificateHold, 一時利用停止), expired or unknown certificate with exit 6. When no status can be
learned (offline, responder down) it refuses too — exit 1, a distinct message — because "could
not check" must not silently become "good" (fail closed, as RFC 5280 §6.3 leaves to local
policy); ``--no-status-check`` is the explicit escape hatch and says so on stderr.

This module is imported by the commands at run time (it pulls in the relying-party kit).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import typer
from asn1crypto import pem as apem
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.cli.card import (
    EXIT_CERT,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    fail,
)
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.signing.timestamp import HttpTimestamper, Timestamper, TimestampError
from mobile_jpki.verify.fetch import Fetcher, HttpFetcher
from mobile_jpki.verify.revocation import check_revocation
from mobile_jpki.verify.revocation_model import RevocationStatus

#: The PEM label of a CMS ContentInfo (RFC 7468 §9), the one ``openssl cms -inform PEM`` reads.
CMS_PEM_LABEL = "CMS"


def read_input(path: Path) -> bytes:
    """The bytes of an input file, or a one-line error: missing → 3, not a regular file or
    unreadable → 2 (docs/cli.md exit codes)."""
    if not path.exists():
        fail(f"{path}: no such file", EXIT_NOT_FOUND)
    if not path.is_file():
        fail(f"{path}: not a regular file", EXIT_USAGE)
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}", EXIT_USAGE)


def check_output(path: Path) -> None:
    """Refuse an output path that cannot be written before the key signs (a signature costs
    a password entry on the element, and an unwritten one is lost)."""
    if path.is_dir():
        fail(f"{path}: is a directory", EXIT_USAGE)
    if not path.parent.is_dir():
        fail(f"{path.parent}: no such directory", EXIT_NOT_FOUND)


class ServiceFetcher:
    """OCSP and CRL requests to the service this command talks to (in-process or
    ``--base-url``): the certificate's AIA/CDP URL (RFC 5280 §4.2.2.1, §4.2.1.13) names the
    path; the host is the service's, since our CA's responder is part of it and its configured
    public base URL need not be reachable from here (the in-process case)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = HttpFetcher(http)

    @staticmethod
    def _local(url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def fetch_ocsp(self, url: str, request_der: bytes) -> bytes:
        return self._http.fetch_ocsp(self._local(url), request_der)

    def fetch_crl(self, url: str) -> bytes:
        return self._http.fetch_crl(self._local(url))


def require_good_status(
    cert: x509.Certificate,
    issuer: x509.Certificate | None,
    fetcher: Fetcher,
    *,
    now: dt.datetime,
    skip: bool,
) -> None:
    """The gate every signing command passes before its key signs (see the module doc)."""
    serial = f"{cert.serial_number:x}"
    if skip:
        typer.echo(
            f"warning: the status of certificate {serial} was not checked (--no-status-check)",
            err=True,
        )
        return
    if now > cert.not_valid_after_utc:
        day = cert.not_valid_after_utc.date().isoformat()
        fail(f"the signing certificate {serial} expired on {day}: nothing signed", EXIT_CERT)
    if issuer is None:
        fail(
            f"cannot check the status of certificate {serial}: its issuing CA is unknown "
            "(--no-status-check signs without the check)",
            EXIT_FAILURE,
        )
    result = check_revocation(cert, issuer, fetcher, now=now)
    since = (
        f" since {result.revoked_at.isoformat().replace('+00:00', 'Z')}"
        if result.revoked_at is not None
        else ""
    )
    if result.status is RevocationStatus.GOOD:
        return
    if result.status is RevocationStatus.REVOKED:
        fail(
            f"the signing certificate {serial} is revoked ({result.reason_word}){since}: "
            "nothing signed",
            EXIT_CERT,
        )
    if result.status is RevocationStatus.HELD:
        fail(
            f"the signing certificate {serial} is suspended (一時利用停止, certificateHold)"
            f"{since}: nothing signed; release the hold first",
            EXIT_CERT,
        )
    if result.status is RevocationStatus.UNKNOWN:
        fail(f"the CA does not know the signing certificate {serial}: nothing signed", EXIT_CERT)
    why = "; ".join(result.notes) or "no answer"
    fail(
        f"cannot learn the status of certificate {serial} ({why}): nothing signed "
        "(--no-status-check signs without it)",
        EXIT_FAILURE,
    )


def service_timestamper(http: httpx.Client) -> Timestamper:
    """RFC 3161 over the service connection: its ``/tsa`` (docs/ca.md)."""
    return HttpTimestamper("/tsa", http)


def make_cms(
    content: bytes,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    *,
    now: dt.datetime,
    chain: list[x509.Certificate],
    attached: bool,
    timestamper: Timestamper | None,
) -> bytes:
    """CMS SignedData (RFC 5652) over ``content``: signed attributes content-type,
    message-digest, signing-time and ESS signing-certificate-v2 (RFC 5035), and with a
    ``timestamper`` the RFC 3161 Appendix A signature time-stamp (CAdES B-T)."""
    try:
        return sign_cms(
            content, key, cert, signing_time=now, chain=chain, detached=not attached,
            timestamper=timestamper,
        )  # fmt: skip
    except TimestampError as exc:
        fail(f"no time-stamp: {exc.message}", EXIT_FAILURE)


def write_output(path: Path, der: bytes, *, pem: bool) -> None:
    data = apem.armor(CMS_PEM_LABEL, der) if pem else der
    try:
        path.write_bytes(data)
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror}", EXIT_USAGE)


def _timestamper(
    timestamp: bool, tsa_url: str | None, http: httpx.Client | None
) -> Timestamper | None:
    if tsa_url is not None:
        return HttpTimestamper(tsa_url)
    if not timestamp:
        return None
    if http is None:
        fail("--timestamp asks the service's /tsa: give --data-dir or --base-url, or --tsa-url",
             EXIT_USAGE)  # fmt: skip
    return service_timestamper(http)


def card_sign_cms(
    in_path: Path,
    out_path: Path,
    *,
    data_dir: Path | None,
    card: str,
    password: str | None,
    attached: bool,
    with_ca: bool,
    pem: bool,
    timestamp: bool,
    tsa_url: str | None,
    no_status_check: bool,
    base_url: str | None,
    pcsc: bool,
    reader: str | None,
) -> None:
    """``mobile-jpki card sign-cms`` (its options: :func:`mobile_jpki.cli.card.sign_cms_cmd`)."""
    from contextlib import ExitStack

    from mobile_jpki.cli import office
    from mobile_jpki.cli.card import cli_errors, open_connection
    from mobile_jpki.pki.model import Hierarchy
    from mobile_jpki.reader.commands import JpkiClient
    from mobile_jpki.reader.emulated import DeviceKind
    from mobile_jpki.reader.key import ApduRSAPrivateKey
    from mobile_jpki.reader.passwords import normalise_sign_password

    content = read_input(in_path)
    check_output(out_path)
    with cli_errors(Hierarchy.SIGN), ExitStack() as stack:  # the card's signing password
        http: httpx.Client | None = None
        fetcher: Fetcher
        if base_url or (data_dir is not None and not (pcsc or reader)):
            svc = stack.enter_context(office.connect(data_dir or Path("."), base_url))
            http = svc.http
            fetcher = ServiceFetcher(http)
        else:
            # A real card: its certificate's own AIA/CDP addresses (J-LIS answers only
            # licensed platforms, so this usually needs --no-status-check).
            fetcher = HttpFetcher()
        stamper = _timestamper(timestamp, tsa_url, http)
        conn = open_connection(DeviceKind.CARD, data_dir, card, pcsc, reader)
        stack.callback(conn.close)
        client = JpkiClient(conn)
        value = normalise_sign_password(
            office.secret(password, flag="--password", prompt="Card signing password")
        )
        client.select_ap()
        client.verify(Hierarchy.SIGN, value)
        cert = client.read_certificate(Hierarchy.SIGN)
        ca = client.read_certificate(Hierarchy.SIGN, ca=True)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            fail("the card's signing certificate is not RSA", EXIT_USAGE)
        now = office.clock.now()
        require_good_status(cert, ca, fetcher, now=now, skip=no_status_check)
        der = make_cms(
            content, ApduRSAPrivateKey(client, Hierarchy.SIGN, public), cert, now=now,
            chain=[ca] if with_ca else [], attached=attached, timestamper=stamper,
        )  # fmt: skip
    write_output(out_path, der, pem=pem)
    typer.echo(describe(out_path, cert, attached=attached, stamped=stamper is not None))


def describe(out_path: Path, cert: x509.Certificate, *, attached: bool, stamped: bool) -> str:
    form = "attached" if attached else "detached"
    return (
        f"{out_path}: CMS signature ({form}{', time-stamped' if stamped else ''}) "
        f"by serial {cert.serial_number:x}"
    )
