"""``mobile-jpki verify``: the relying-party kit from the command line.

Exit codes: 0 valid; 1 invalid (bad signature, revoked, held, expired, untrusted, revocation
unavailable under hard fail, ...); 2 usage error or unreadable input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from asn1crypto import pem as apem
from cryptography import x509

from mobile_jpki.clock import SystemClock
from mobile_jpki.signing.login import LoginAssertion
from mobile_jpki.verify.certificate import (
    CertificateVerdict,
    RevocationCheck,
    TrustAnchors,
    jlis_anchors,
    verify_certificate,
)
from mobile_jpki.verify.cms import verify_cms
from mobile_jpki.verify.errors import MalformedInput, VerifyError
from mobile_jpki.verify.fetch import HttpFetcher
from mobile_jpki.verify.login import MemoryNonceStore, verify_login
from mobile_jpki.verify.pdf import verify_pdf
from mobile_jpki.verify.revocation_model import FailMode, RevocationPolicy, Source

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")

app = typer.Typer(
    help="Verify JPKI certificates, CMS and PDF signatures and login assertions "
    "(exit 0 valid, 1 invalid, 2 usage error).",
    no_args_is_help=True,
)

Trust = Annotated[
    list[Path] | None,
    typer.Option("--trust", help="PEM file of trusted roots (repeatable)."),
]
Jlis = Annotated[
    bool, typer.Option("--jlis", help="Also trust the real J-LIS roots (for real cards).")
]
Offline = Annotated[
    bool, typer.Option("--offline", help="Do not fetch OCSP/CRLs (only embedded evidence).")
]
SoftFail = Annotated[
    bool,
    typer.Option("--soft-fail", help="Accept when revocation status cannot be obtained."),
]
Method = Annotated[
    str, typer.Option("--revocation", help="Sources in order: ocsp,crl | ocsp | crl.")
]
At = Annotated[
    str | None, typer.Option("--at", help="Judge as of this ISO 8601 time (default: now).")
]


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _errors(about: Path | None = None) -> Iterator[None]:
    """One line per failure; input the kit cannot read (MalformedInput) names ``about``."""
    try:
        yield
    except MalformedInput as exc:
        _fail(f"{about}: {exc}" if about is not None else str(exc))
    except (VerifyError, OSError, ValueError) as exc:
        _fail(str(exc))


def _read(path: Path) -> bytes:
    """An input file's bytes, or one line naming the file (exit 2, this group's usage code)."""
    if not path.exists():
        _fail(f"{path}: no such file")
    if not path.is_file():
        _fail(f"{path}: not a regular file")
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror}")


def _parse(path: Path, what: str, parse: Callable[[bytes], T]) -> T:
    """``parse(bytes of path)``; a file that is not ``what`` is one line naming it."""
    data = _read(path)
    try:
        return parse(data)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        # Parsers of foreign bytes raise any of these (asn1crypto, cryptography's Rust parser,
        # json, base64); none of them is a bug here, all mean "not what it says it is".
        _fail(f"{path}: not {what}: {exc}")


def _unarmor(data: bytes) -> bytes:
    """DER, or PEM of it (RFC 7468), as ``openssl cms -outform PEM`` and ``sign-cms --pem``
    write."""
    if data.lstrip().startswith(b"-----BEGIN"):
        _, _, der = apem.unarmor(data)
        return bytes(der)
    return data


def _load_certificate(data: bytes) -> x509.Certificate:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def _anchors(trust: list[Path] | None, jlis: bool) -> TrustAnchors:
    anchors = TrustAnchors(())
    for path in trust or []:
        anchors = anchors + _parse(path, "a PEM certificate file", TrustAnchors.from_pem)
    if jlis:
        anchors = anchors + jlis_anchors()
    if not anchors.certificates:
        _fail("give at least one --trust PEM (or --jlis)")
    return anchors


def _check(offline: bool, soft_fail: bool, method: str) -> RevocationCheck:
    try:
        sources = tuple(Source(m.strip()) for m in method.split(",") if m.strip())
    except ValueError:
        _fail(f"--revocation: {method!r}; use ocsp,crl | ocsp | crl")
    policy = RevocationPolicy(sources=sources, fail=FailMode.SOFT if soft_fail else FailMode.HARD)
    return RevocationCheck(None if offline else HttpFetcher(), policy=policy)


def _time(at: str | None) -> dt.datetime | None:
    if at is None:
        return None
    try:
        when = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--at: not an ISO 8601 time: {at}")
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _render_certificate(v: CertificateVerdict, *, when: str | None = None) -> None:
    cert = v.certificate
    typer.echo(f"subject: {cert.subject.rfc4514_string()}")
    typer.echo(f"serial: {cert.serial_number:#x}")
    typer.echo(f"valid: {cert.not_valid_before_utc} .. {cert.not_valid_after_utc}")
    if v.kind is not None:
        where = "smartphone" if v.kind.on_phone else "My Number Card"
        typer.echo(f"kind: {v.kind.value} ({where})")
    if v.facts is not None:
        f = v.facts
        typer.echo(f"name: {f.name}")
        typer.echo(f"sex: {f.sex.name.lower()}")
        typer.echo(f"date of birth: {f.date_of_birth.isoformat()}")
        typer.echo(f"address: {f.address}")
    if v.revocation is not None:
        typer.echo(f"revocation: {v.revocation.describe(when=when)}")
    for w in v.warnings:
        typer.echo(f"warning: {w}")


def _finish(valid: bool, summary: str) -> NoReturn:
    typer.echo(f"verdict: {'VALID' if valid else 'INVALID'}" + ("" if valid else f": {summary}"))
    raise typer.Exit(EXIT_VALID if valid else EXIT_INVALID)


@app.command("cert")
def cert_cmd(
    pem: Annotated[Path, typer.Argument(help="Certificate (PEM or DER).")],
    trust: Trust = None,
    jlis: Jlis = False,
    offline: Offline = False,
    soft_fail: SoftFail = False,
    revocation: Method = "ocsp,crl",
    at: At = None,
) -> None:
    """Kind (card/phone), basic four facts, and revocation status with reason and time."""
    cert = _parse(pem, "a certificate (PEM or DER)", _load_certificate)
    with _errors():
        verdict = verify_certificate(
            cert,
            anchors=_anchors(trust, jlis),
            now=SystemClock().now(),
            at=_time(at),
            revocation=_check(offline, soft_fail, revocation),
        )
    _render_certificate(verdict)
    _finish(verdict.valid, verdict.summary())


@app.command("cms")
def cms_cmd(
    signature: Annotated[Path, typer.Argument(help="CMS SignedData (DER or PEM).")],
    data: Annotated[Path | None, typer.Option("--data", help="Detached content.")] = None,
    trust: Trust = None,
    jlis: Jlis = False,
    offline: Offline = False,
    soft_fail: SoftFail = False,
    revocation: Method = "ocsp,crl",
) -> None:
    """Verify a CMS signature (detached with --data, or encapsulated)."""
    content = _read(data) if data else None
    signed = _parse(signature, "a CMS signature (DER or PEM)", _unarmor)
    with _errors(signature):
        verdict = verify_cms(
            content,
            signed,
            anchors=_anchors(trust, jlis),
            now=SystemClock().now(),
            revocation=_check(offline, soft_fail, revocation),
        )
    if verdict.certificate is not None:
        _render_certificate(verdict.certificate)
    if verdict.signing_time_claimed is not None:
        typer.echo(f"signing time (claimed): {verdict.signing_time_claimed}")
    if verdict.proven_time is not None:
        typer.echo(f"time-stamp: {verdict.proven_time}")
    _finish(verdict.valid, verdict.summary())


@app.command("pdf")
def pdf_cmd(
    pdf: Annotated[Path, typer.Argument(help="Signed PDF.")],
    trust: Trust = None,
    jlis: Jlis = False,
    tsa_trust: Annotated[
        list[Path] | None,
        typer.Option("--tsa-trust", help="PEM of roots trusted for time-stamps (default --trust)."),
    ] = None,
    offline: Offline = False,
    soft_fail: SoftFail = False,
    revocation: Method = "ocsp,crl",
) -> None:
    """Verify every signature of a PDF (PAdES)."""
    document = _read(pdf)
    with _errors(pdf):
        anchors = _anchors(trust, jlis)
        verdict = verify_pdf(
            document,
            anchors=anchors,
            now=SystemClock().now(),
            revocation=_check(offline, soft_fail, revocation),
            tsa_anchors=_anchors(tsa_trust, False) if tsa_trust else None,
        )
    for sig in verdict.signatures:
        typer.echo(f"[{sig.field_name}] coverage: {sig.coverage}")
        if sig.certificate is not None:
            # Revocation is judged at the time-stamp's time (the proven signing time).
            stamped = (
                f"when signed (time-stamp {sig.timestamp:%Y-%m-%dT%H:%M:%SZ})"
                if sig.timestamp is not None
                else None
            )
            _render_certificate(sig.certificate, when=stamped)
        if sig.timestamp is not None:
            typer.echo(f"time-stamp: {sig.timestamp}")
        typer.echo(f"[{sig.field_name}] {'valid' if sig.valid else sig.summary()}")
    _finish(verdict.valid, verdict.summary())


@app.command("login")
def login_cmd(
    assertion: Annotated[Path, typer.Argument(help="Login assertion (JSON).")],
    audience: Annotated[str, typer.Option("--audience", help="This relying party's identifier.")],
    trust: Trust = None,
    jlis: Jlis = False,
    offline: Offline = False,
    soft_fail: SoftFail = False,
    revocation: Method = "ocsp,crl",
) -> None:
    """Check a login assertion's signature, audience, expiry and certificate. Single use of the
    nonce cannot be checked here (no nonce store): that is the relying party's job."""
    parsed = _parse(
        assertion, "a login assertion (JSON)", lambda b: LoginAssertion.from_json(b.decode())
    )
    with _errors():
        store = MemoryNonceStore()
        store.remember(parsed.challenge)
        result = verify_login(
            parsed,
            audience=audience,
            nonce_store=store,
            anchors=_anchors(trust, jlis),
            now=SystemClock().now(),
            revocation=_check(offline, soft_fail, revocation),
        )
    if result.certificate is not None:
        _render_certificate(result.certificate)
    _finish(
        result.valid,
        result.message if result.failure is None else f"{result.failure}: {result.message}",
    )
