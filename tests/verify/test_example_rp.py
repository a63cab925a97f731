from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

import httpx
from pdf_util import blank_pdf
from rp_pki import URLS, Issued, TestPki

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.tsa import respond
from mobile_jpki.signing.login import Challenge, sign_login
from mobile_jpki.signing.pdf import Level, sign_pdf_bytes
from mobile_jpki.verify.certificate import TrustAnchors
from mobile_jpki.verify.fetch import FakeFetcher

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "relying_party"))
import rp_app

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_login_and_pdf(tpki: TestPki) -> None:
    kw = {"not_before": NOW - dt.timedelta(days=1), "not_after": NOW + dt.timedelta(days=9)}
    auth = tpki.issue(CertKind.PHONE_AUTH, 1101, **kw)  # type: ignore[arg-type]
    sign = tpki.issue(CertKind.PHONE_SIGN, 1102, **kw)  # type: ignore[arg-type]
    fetcher = FakeFetcher(
        ocsp={
            URLS.ocsp(Hierarchy.AUTH): tpki.ocsp_handler(auth, now=NOW),
            URLS.ocsp(Hierarchy.SIGN): tpki.ocsp_handler(sign, now=NOW),
        }
    )
    app = rp_app.create_app(
        anchors=TrustAnchors((tpki.root(Hierarchy.AUTH), tpki.root(Hierarchy.SIGN))),
        fetcher=fetcher,
        audience="https://rp.test",
        clock=FixedClock(NOW),
    )
    # Signed before entering the event loop: pyHanko's synchronous API runs its own loop.
    pdf = sign_pdf_bytes(
        blank_pdf(),
        sign.key,
        sign.cert,
        [sign.ca.certificate],
        level=Level.B_T,
        now=NOW,
        tsa_exchange=lambda req: respond(req, tsa=tpki.tsa(), now=NOW, serial=1),
    )

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rp") as client:
            await _scenario(client, auth, pdf)

    asyncio.run(run())


async def _scenario(client: httpx.AsyncClient, auth: Issued, pdf: bytes) -> None:
    challenge = Challenge.from_dict((await client.post("/login/challenge")).json())
    body = sign_login(challenge, auth.key, auth.cert).to_json()
    ok = await client.post("/login", content=body)
    assert ok.status_code == 200 and ok.json()["subject_id"] == "SUBJ00001101"
    replay = await client.post("/login", content=body)
    assert replay.status_code == 401 and replay.json()["failure"] == "unknown-challenge"

    r = await client.post("/verify-pdf", content=pdf, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 200 and r.json()["valid"], r.json()
    assert r.json()["signatures"][0]["signer"] == "番号\u3000花子"
    bad = await client.post("/verify-pdf", content=blank_pdf())
    assert bad.json()["valid"] is False
    assert "Verify a signed PDF" in (await client.get("/")).text
