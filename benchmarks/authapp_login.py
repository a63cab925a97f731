"""What a login through the デジタル認証アプリ twin costs the service, beside the same check done
by a relying party itself with the kit.

Set-up (not timed): the demo's data directory in a temporary directory (a card and a registered
phone), served in process, one relying party registered.

Timed, N times each, in one process:

- ours: one whole login through the twin's HTTP API in process — the authorization request
  (as the app sends it), the approval view, the app's answer (checked: signature, chain, our
  own OCSP responder), the code exchange with a private_key_jwt assertion (verified, jti
  recorded) and the ID token signed; minus the time the emulated element spent signing (the
  phone's work, not the service's), measured around each signature;
- peer: ``mobile_jpki.verify.login.verify_login`` on an assertion signed by the same phone —
  the relying party checking a JPKI login itself (signature, chain, OCSP from the same
  responder), with no OAuth around it.

The ratio is what OAuth/OIDC (database rows, JWS, JWT, tokens) adds to the certificate check.

    python benchmarks/authapp_login.py [--logins 50]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from mobile_jpki.clock import FixedClock, SystemClock
from mobile_jpki.demo.scenario import Demo
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import open_phone
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.runtime import open_system
from mobile_jpki.service.authapp.approval import OCSP_ONLY, CaOcspFetcher
from mobile_jpki.service.authapp.clients import generate_private_jwk, public_jwks
from mobile_jpki.settings import Settings
from mobile_jpki.signing.login import Challenge, new_challenge, sign_login
from mobile_jpki.verify.certificate import RevocationCheck, TrustAnchors
from mobile_jpki.verify.login import MemoryNonceStore, verify_login

BASE = "http://127.0.0.1:8000"
REDIRECT = "http://127.0.0.1:9000/callback"
REALM = "/api/realms/main"


class Quiet:
    def step(self, title: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        print("set-up: the demo (a card, two phones) ...", flush=True)
        Demo(data, base_url=BASE, clock=clock, reporter=Quiet()).run()
        pin = json.loads((data / "export" / "secrets.json").read_text())["new_phone_auth_pin"]
        system = open_system(Settings.load(data), SystemClock())
        clock = system.clock
        jwk = generate_private_jwk()
        client = system.app.state.authapp.clients.register(
            name="bench", redirect_uris=[REDIRECT], jwks=public_jwks(jwk), now=clock.now()
        )
        key = RSAKey.import_key(jwk)
        element = JpkiClient(InProcessConnection(open_phone(data, "new-phone", clock=clock)))
        element.select_ap()
        element.verify(Hierarchy.AUTH, pin)
        cert = element.read_certificate(Hierarchy.AUTH)
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        auth_key = ApduRSAPrivateKey(element, Hierarchy.AUTH, public)
        http = system.client()

        def login() -> tuple[float, float]:
            verifier = secrets.token_urlsafe(48)
            challenge = b64(hashlib.sha256(verifier.encode()).digest())
            query = urlencode({
                "response_type": "code", "scope": "openid", "client_id": client.client_id,
                "redirect_uri": REDIRECT, "state": secrets.token_urlsafe(8),
                "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
                "code_challenge_method": "S256",
            })  # fmt: skip
            t0 = time.perf_counter()
            started = http.get(f"{REALM}/protocol/openid-connect/auth?{query}",
                               headers={"Accept": "application/json"}).json()  # fmt: skip
            view = http.get(urlsplit(started["approval_url"]).path).json()
            s0 = time.perf_counter()
            signed = sign_login(Challenge.from_dict(view["challenge"]), auth_key, cert)
            element_s = time.perf_counter() - s0
            auth = {"signature": b64(signed.signature), "certificate": b64(signed.certificate)}
            answer = http.post(
                urlsplit(started["approval_url"]).path, json={"decision": "approve", "auth": auth}
            ).json()
            code = parse_qs(urlsplit(answer["redirect_uri"]).query)["code"][0]
            now = int(time.time())
            assertion = jwt.encode({"alg": "RS256", "kid": key.kid}, {
                "iss": client.client_id, "sub": client.client_id,
                "aud": f"{BASE}{REALM}/protocol/openid-connect/token", "iat": now,
                "exp": now + 60, "jti": secrets.token_urlsafe(16),
            }, key)  # fmt: skip
            token = http.post(f"{REALM}/protocol/openid-connect/token", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            })  # fmt: skip
            assert token.status_code == 200, token.text
            return time.perf_counter() - t0 - element_s, element_s

        login()  # warm-up: the twin's key is made on first use
        ours = [login() for _ in range(args.logins)]

        store = MemoryNonceStore()
        anchors = TrustAnchors(tuple(c.certificate for c in system.ca.cas()))

        def peer() -> float:
            challenge = new_challenge("bench-rp", now=clock.now())
            store.remember(challenge)
            signed = sign_login(challenge, auth_key, cert)
            t0 = time.perf_counter()
            result = verify_login(
                signed, audience="bench-rp", nonce_store=store, anchors=anchors, now=clock.now(),
                revocation=RevocationCheck(fetcher=CaOcspFetcher(system.ca, clock.now()),
                                           policy=OCSP_ONLY),
            )  # fmt: skip
            assert result.valid, result
            return time.perf_counter() - t0

        peer()
        theirs = [peer() for _ in range(args.logins)]
        http.close()
        system.close()

    ours_ms = statistics.median(o[0] for o in ours) * 1000
    element_ms = statistics.median(o[1] for o in ours) * 1000
    peer_ms = statistics.median(theirs) * 1000
    print(f"\n{args.logins} logins each, medians (ms); the element's signature, not counted: "
          f"{element_ms:.2f} ms")  # fmt: skip
    print("| figure | ours | peer | peer value | ours/peer |")
    print("|---|---:|---|---:|---:|")
    print(f"| login, service side (ms) | {ours_ms:.2f} | kit verify_login by the RP | "
          f"{peer_ms:.2f} | {ours_ms / peer_ms:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
