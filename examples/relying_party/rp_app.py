"""A small relying party built on mobile-jpki's kit: log in with the JPKI user-authentication
certificate (challenge-response) and verify an uploaded signed PDF.

Run against ``mobile-jpki serve`` (which answers OCSP/CRLs at the certificates' URLs)::

    MOBILE_JPKI_TRUST=DIR/export/sign-ca.pem:DIR/export/auth-ca.pem \\
    uvicorn --app-dir examples/relying_party --factory rp_app:create_app_from_env --port 9000

Endpoints: ``GET /`` (a page with the PDF check), ``POST /login/challenge`` (JSON challenge),
``POST /login`` (JSON assertion from ``sign_login(...).to_json()``), ``POST /verify-pdf``
(raw ``application/pdf`` body). Only the kit decides; this file parses and renders.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from mobile_jpki.clock import Clock, SystemClock
from mobile_jpki.signing.login import LoginAssertion, new_challenge
from mobile_jpki.verify.certificate import RevocationCheck, TrustAnchors
from mobile_jpki.verify.fetch import Fetcher, HttpFetcher
from mobile_jpki.verify.login import MemoryNonceStore, NonceStore, verify_login
from mobile_jpki.verify.pdf import verify_pdf

PAGE = """<!doctype html><meta charset="utf-8"><title>Example relying party</title>
<h1>Example relying party (mobile-jpki)</h1>
<p>Log in: POST /login/challenge, sign it on the phone or card with the user-authentication
key, POST the assertion to /login.</p>
<h2>Verify a signed PDF</h2>
<input type="file" id="f" accept="application/pdf"> <button id="b">Verify</button>
<pre id="out"></pre>
<script>
document.getElementById("b").onclick = async () => {
  const file = document.getElementById("f").files[0];
  if (!file) return;
  const r = await fetch("/verify-pdf", {method: "POST", body: file,
                                        headers: {"Content-Type": "application/pdf"}});
  document.getElementById("out").textContent = JSON.stringify(await r.json(), null, 2);
};
</script>"""

MAX_PDF_BYTES = 20 * 1024 * 1024


def create_app(
    *,
    anchors: TrustAnchors,
    fetcher: Fetcher,
    audience: str,
    clock: Clock | None = None,
    nonce_store: NonceStore | None = None,
) -> FastAPI:
    app = FastAPI(title="mobile-jpki example relying party")
    clock = clock or SystemClock()
    store = nonce_store or MemoryNonceStore()
    revocation = RevocationCheck(fetcher)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return PAGE

    @app.post("/login/challenge")
    def challenge() -> dict[str, str]:
        c = new_challenge(audience, now=clock.now())
        store.remember(c)
        return c.to_dict()

    @app.post("/login")
    async def login(request: Request) -> JSONResponse:
        try:
            assertion = LoginAssertion.from_json((await request.body()).decode())
        except (ValueError, KeyError, TypeError) as exc:
            raise HTTPException(400, f"malformed assertion: {exc}") from None
        # The kit is synchronous (blocking HTTP to the OCSP responder; pyHanko runs its own
        # event loop): keep it off the server's event loop.
        result = await run_in_threadpool(
            verify_login,
            assertion,
            audience=audience,
            nonce_store=store,
            anchors=anchors,
            now=clock.now(),
            revocation=revocation,
        )
        if not result.valid:
            return JSONResponse(
                {"authenticated": False, "failure": str(result.failure), "detail": result.message},
                status_code=401,
            )
        return JSONResponse(
            {
                "authenticated": True,
                "subject_id": result.subject_id,
                "serial": f"{result.serial:#x}",
                "kind": str(result.kind),
            }
        )

    @app.post("/verify-pdf")
    async def check_pdf(request: Request) -> dict[str, object]:
        body = await request.body()
        if len(body) > MAX_PDF_BYTES:
            raise HTTPException(413, "PDF too large")
        verdict = await run_in_threadpool(
            verify_pdf, body, anchors=anchors, now=clock.now(), revocation=revocation
        )
        signatures = []
        for s in verdict.signatures:
            cert = s.certificate
            facts = cert.facts if cert else None
            signatures.append(
                {
                    "field": s.field_name,
                    "valid": s.valid,
                    "summary": s.summary(),
                    "kind": str(cert.kind) if cert and cert.kind else None,
                    "signer": facts.name if facts else (cert.subject_id if cert else None),
                    "time_stamp": s.timestamp.isoformat() if s.timestamp else None,
                    "revocation": cert.revocation.describe() if cert and cert.revocation else None,
                }
            )
        return {"valid": verdict.valid, "signatures": signatures}

    return app


def create_app_from_env() -> FastAPI:
    trust = os.environ.get("MOBILE_JPKI_TRUST", "")
    paths = [Path(p) for p in trust.split(os.pathsep) if p]
    if not paths:
        raise SystemExit("set MOBILE_JPKI_TRUST to the CA PEM files (sign-ca.pem:auth-ca.pem)")
    return create_app(
        anchors=TrustAnchors.from_files(paths),
        fetcher=HttpFetcher(),
        audience=os.environ.get("RP_AUDIENCE", "http://127.0.0.1:9000"),
    )
