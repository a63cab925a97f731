# ruff: noqa: RUF001 - Japanese text uses full-width punctuation on purpose
"""The front door (issue 17 "Wanted" 1): ``/`` says what this server runs and where, in
Japanese and English; ``/ca/<id>.pem|.crt`` hands out the CA certificates; ``/favicon.svg``.

A thin page over what the app holds (``app.state``): the CA's generations, whether the TSA,
the portal and the simulator are mounted. The data directory is named, never its full path
(a visitor has no business with the server's file system).
"""

from __future__ import annotations

import re
from html import escape
from importlib import resources
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from mobile_jpki import __version__
from mobile_jpki.web.pages import FAVICON_LINK, FAVICON_SVG, SVG_TYPE

PKIX_CERT = "application/pkix-cert"  # RFC 2585 §4.1: one DER certificate
PEM_CHAIN = "application/pem-certificate-chain"  # RFC 8555 §9.1: PEM certificates
_CERT_NAME = re.compile(r"^(?P<id>[a-z]+-[1-9][0-9]{0,3}|tsa)\.(?P<ext>pem|crt)$")

router = APIRouter(include_in_schema=False)


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _certificates(state: Any) -> dict[str, x509.Certificate]:
    """The certificates a relying party may want: every CA generation, and the TSA's."""
    found = {c.ca_id: c.certificate for c in state.services.ca.cas()}
    tsa = getattr(state, "tsa_certificate", None)
    if tsa is not None:
        found["tsa"] = tsa
    return found


def _row(ja: str, en: str, value: str) -> str:
    return f"<tr><th>{escape(ja)}<br><small>{escape(en)}</small></th><td>{value}</td></tr>"


def _on(flag: bool) -> str:
    return '<span class="on">有効 / on</span>' if flag else '<span class="off">無効 / off</span>'


def render_front(state: Any) -> str:
    ca = state.services.ca
    settings = ca.settings
    simulator_on = bool(getattr(state, "simulator_on", False))
    tsa_on = getattr(state, "tsa_certificate", None) is not None
    portal_on = getattr(state, "portal", None) is not None
    authapp_on = getattr(state, "authapp", None) is not None
    cas = ca.cas()
    shards = settings.shard_count

    services = "".join(
        [
            _row("OCSP応答", "OCSP responder (RFC 6960 / 5019)", _on(True)),
            _row("失効リスト", "CRLs (RFC 5280)", _on(True)),
            _row("タイムスタンプ", "Time-stamping (RFC 3161)", _on(tsa_on)),
            _row("ポータル", "Portal API", _on(portal_on)),
            _row("シミュレーター", "Phone simulator (sandbox)", _on(simulator_on)),
            _row("デジタル認証アプリ", "Auth and sign service twin (OIDC)", _on(authapp_on)),
        ]
    )
    if simulator_on:
        simulator = (
            '<p><a class="go" href="/simulator/" data-testid="link-simulator">'
            "スマホ用電子証明書 シミュレーターを開く / Open the phone simulator</a></p>"
            '<p class="sandbox-note">サンドボックス — テスト用の模擬環境です。'
            "セッションごとに架空の住民・カード・スマホと証明書が作られ、"
            "一定時間後に失効・削除されます。<br>"
            "Sandbox: test data only. Each session makes a fictitious resident, card, phones "
            "and certificates; they are revoked and removed when the session ends.</p>"
        )
    else:
        simulator = (
            "<p>シミュレーターは無効です。<code>mobile-jpki serve --simulator</code> "
            "で有効になります。<br>The simulator is off; "
            "<code>mobile-jpki serve --simulator</code> turns it on.</p>"
        )

    ocsp = "".join(
        f"<li><code>POST /ocsp/{h}</code> · <code>GET /ocsp/{h}/&lt;base64&gt;</code></li>"
        for h in ("sign", "auth")
    )
    crls = "".join(
        f'<li><code>{escape(c.ca_id)}</code>: <a href="/crl/{escape(c.ca_id)}/root.crl">'
        f'root.crl</a> · <a href="/crl/{escape(c.ca_id)}/0.crl">0.crl</a> … '
        f"<code>{shards - 1}.crl</code> · <code>&lt;n&gt;.delta.crl</code></li>"
        for c in cas
    )
    tsa = (
        "<li><code>POST /tsa</code> (<code>application/timestamp-query</code>)</li>"
        if tsa_on
        else ""
    )
    certs = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(_cn(cert))}</td>"
        f'<td><a href="/ca/{escape(name)}.pem">PEM</a> · '
        f'<a href="/ca/{escape(name)}.crt">DER</a></td></tr>'
        for name, cert in _certificates(state).items()
    )
    return f"""<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mobile-jpki {escape(__version__)}</title>
{FAVICON_LINK}
<link rel="stylesheet" href="/assets/front.css">
</head>
<body>
<header>
<h1>mobile-jpki <small data-testid="version">{escape(__version__)}</small></h1>
<p>スマホ用電子証明書（公的個人認証サービス）の検証用実装です。<br>
A test implementation of Japan's smartphone JPKI certificate service.</p>
</header>
<main>
<section>
<h2>稼働中のサービス / What is running</h2>
<table data-testid="services">
{_row("データディレクトリ", "Data directory", f"<code>{escape(settings.data_dir.name)}</code>")}
{services}
</table>
</section>
<section data-testid="simulator">
<h2>シミュレーター / Simulator</h2>
{simulator}
</section>
<section>
<h2>API</h2>
<p><a href="/docs">API 仕様 (OpenAPI) / API docs</a> ·
<a href="/openapi.json">openapi.json</a> · <a href="/healthz">healthz</a></p>
{_authapp_links() if authapp_on else ""}
</section>
<section data-testid="addresses">
<h2>失効確認・タイムスタンプの宛先 / Revocation and time-stamp addresses</h2>
<p>このサーバーでの宛先です。証明書に記載の宛先は <code>{escape(settings.base_url)}</code>
で始まります。<br>Paths on this server; the certificates name
<code>{escape(settings.base_url)}</code> as their base.</p>
<h3>OCSP</h3><ul>{ocsp}</ul>
<h3>CRL</h3><ul>{crls}</ul>
{"<h3>TSA</h3><ul>" + tsa + "</ul>" if tsa else ""}
</section>
<section data-testid="certificates">
<h2>CA証明書のダウンロード / CA certificates</h2>
<table>
<tr><th>ID</th><th>主体者 / Subject</th><th>ダウンロード / Download</th></tr>
{certs}
</table>
</section>
</main>
</body>
</html>
"""


def _authapp_links() -> str:
    """The デジタル認証アプリ twin's issuer, for relying parties (docs/auth-app.md)."""
    discovery = "/api/realms/main/.well-known/openid-configuration"
    return (
        '<p data-testid="authapp">デジタル認証アプリ (OpenID Connect): '
        f'<a href="{discovery}">openid-configuration</a> · '
        '<a href="/api/realms/main/protocol/openid-connect/certs">JWKS</a> · '
        "<code>mobile-jpki rp register</code></p>"
    )


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request) -> HTMLResponse:
    return HTMLResponse(render_front(request.app.state), headers={"Cache-Control": "no-cache"})


@router.get("/ca/{name}")
def ca_certificate(name: str, request: Request) -> Response:
    """A CA generation's (or the TSA's) certificate: ``.crt`` DER as ``application/pkix-cert``,
    ``.pem`` as ``application/pem-certificate-chain``."""
    match = _CERT_NAME.match(name)
    cert = _certificates(request.app.state).get(match["id"]) if match else None
    if match is None or cert is None:
        raise HTTPException(404, f"no CA certificate {name!r}")
    if match["ext"] == "crt":
        body, media = cert.public_bytes(serialization.Encoding.DER), PKIX_CERT
    else:
        body, media = cert.public_bytes(serialization.Encoding.PEM), PEM_CHAIN
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/favicon.svg")
@router.get("/favicon.ico")
def favicon() -> Response:
    # /favicon.ico answers the same SVG: browsers that ask it by convention (pages without a
    # link rel=icon, e.g. JSON answers) read the type from Content-Type, not the name.
    return Response(FAVICON_SVG, media_type=SVG_TYPE, headers={"Cache-Control": "max-age=86400"})


@router.get("/assets/front.css")
def front_css() -> Response:
    body = resources.files("mobile_jpki.web").joinpath("static", "front.css").read_bytes()
    return Response(body, media_type="text/css", headers={"Cache-Control": "no-cache"})
