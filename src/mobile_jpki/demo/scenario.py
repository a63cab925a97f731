"""The seed's scenario end to end, on a data directory (DESIGN.md "Command-line contract").

A municipal office issues a My Number Card; a first phone (``old-phone``) applies for both
smartphone certificates and registers them; a new phone (``new-phone``) does the model change
(機種変更, seed ①-⑬) — the old phone's certificates are revoked in the same transaction; the
old phone comes online within 48 hours and its secure element deletes them; the new phone signs
a PDF inside its secure element and a relying party verifies it through OCSP.

Every step goes through the same paths as production: the phones talk to the portal over HTTP
(in-process transport), to the card and their secure elements in APDUs; the relying party
fetches OCSP from the URLs in the certificates. Progress is reported through :class:`Reporter`
so the CLI can render it and tests can read it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets as pysecrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from mobile_jpki.clock import Clock
from mobile_jpki.demo.document import minimal_pdf
from mobile_jpki.files import atomic_write
from mobile_jpki.phone.client import OperatorClient, PortalClient
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.profile import AppProfile, OperatorKeyFile, ProfileStore
from mobile_jpki.phone.steps import ConsentNeeded, ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.constants import EF
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import create_card, create_phone
from mobile_jpki.reader.errors import FileNotFound
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.runtime import System, open_system
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.settings import Settings
from mobile_jpki.signing.cms import sign_cms
from mobile_jpki.signing.pdf import Level, sign_pdf_bytes
from mobile_jpki.verify.certificate import RevocationCheck, TrustAnchors
from mobile_jpki.verify.fetch import HttpFetcher
from mobile_jpki.verify.pdf import verify_pdf
from mobile_jpki.verify.revocation import check_revocation

CARD_ID = "card"
OLD_PHONE = "old-phone"
NEW_PHONE = "new-phone"
PROGRESS_FILE = "demo-progress.json"
BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)
# The certificate EFs of the JPKI AP (docs/apdu.md "Elementary files").
CERT_EF = {Hierarchy.SIGN: EF.SIGN_CERT, Hierarchy.AUTH: EF.AUTH_CERT}

# The resident of the demo (fictitious): the basic four facts of the signing certificate.
RESIDENT: dict[str, object] = {
    "family_name": "デジタル",
    "given_name": "花子",
    "sex": "female",
    "date_of_birth": dt.date(1990, 4, 1),
    "address": "東京都千代田区紀尾井町一丁目三番",
    "prefecture_romaji": "Tokyo",
    "city_romaji": "Chiyoda-ku",
}


class DemoError(Exception):
    """The demo cannot run on this data directory (with what to do instead)."""


class Reporter(Protocol):
    def step(self, title: str) -> None:
        """A step starts (a heading)."""

    def detail(self, text: str) -> None:
        """Something that just happened within the step."""


@dataclass(frozen=True)
class DemoSecrets:
    """The demo's passwords, written to ``export/secrets.json`` under the contract's keys."""

    card_sign_password: str
    card_auth_pin: str
    old_phone_sign_password: str
    old_phone_auth_pin: str
    new_phone_sign_password: str
    new_phone_auth_pin: str

    @classmethod
    def generate(cls, randbelow: Callable[[int], int] = pysecrets.randbelow) -> DemoSecrets:
        def password(prefix: str) -> str:
            # 6-16 of A-Z/0-9 mixing letters and digits (JPKI-FACTS.md "Passwords and PINs").
            return f"{prefix}{randbelow(10**4):04d}"

        def pin() -> str:
            return f"{randbelow(10**4):04d}"

        return cls(password("CARD"), pin(), password("OLDPH"), pin(), password("NEWPH"), pin())


@dataclass(frozen=True)
class Holding:
    """One row of the final table: a certificate, where it is, and what OCSP says."""

    name: str
    serial: int
    where: str
    ocsp: str


@dataclass
class DemoResult:
    data_dir: Path
    holdings: list[Holding] = field(default_factory=list)
    pdf_verdict: str = ""
    exported: list[Path] = field(default_factory=list)


def _tsa_exchange(http: httpx.Client, query: bytes) -> bytes:
    """RFC 3161 over HTTP (§3.4) to the served TSA, through the demo's in-process client."""
    reply = http.post(
        "/tsa", content=query, headers={"Content-Type": "application/timestamp-query"}
    )
    reply.raise_for_status()
    return reply.content


class Demo:
    """Runs the scenario on ``data_dir``. One instance, one run."""

    def __init__(
        self,
        data_dir: Path,
        *,
        base_url: str,
        clock: Clock,
        reporter: Reporter,
        secrets: DemoSecrets | None = None,
        database_url: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        # None: the embedded SQLite file; a PostgreSQL URL for the tests that run the demo's
        # state on PostgreSQL (the command line's demo stays on the embedded default).
        self.database_url = database_url
        self.base_url = base_url
        self.clock = clock
        self.out = reporter
        self.secrets = secrets or DemoSecrets.generate()
        self.certs: dict[str, x509.Certificate] = {}

    # -- the data directory ----------------------------------------------------------------
    def _check_fresh(self) -> None:
        progress = self.data_dir / PROGRESS_FILE
        if progress.exists():
            state = json.loads(progress.read_text(encoding="utf-8")).get("state")
            if state == "done":
                raise DemoError(
                    f"{self.data_dir} already holds a finished demo: serve it with "
                    f"`mobile-jpki serve --data-dir {self.data_dir}`, or run the demo again "
                    "with another --data-dir (or delete that directory first)"
                )
            raise DemoError(
                f"{self.data_dir} holds an interrupted demo: delete that directory and run "
                "`mobile-jpki demo` again, or pass another --data-dir"
            )
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise DemoError(
                f"{self.data_dir} is not empty and was not made by the demo: pass an empty or "
                "new --data-dir"
            )

    def _progress(self, state: str) -> None:
        data = json.dumps({"state": state}).encode("utf-8")
        atomic_write(self.data_dir / PROGRESS_FILE, data, mode=0o644, make_parents=True)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> DemoResult:
        self._check_fresh()
        self._progress("running")
        self.out.step("認証局 — the certificate authority")
        # A sandbox: QA moves its clock past the 48 hours with `mobile-jpki clock advance`.
        settings, created = init_data_dir(
            self.data_dir, self.clock.now(), base_url=self.base_url, sandbox=True,
            database_url=self.database_url,
        )  # fmt: skip
        self.out.detail(f"roots created: {', '.join(created)} (test hierarchy O=JPKI-TEST)")
        system = open_system(settings, self.clock)
        try:
            with system.client() as http:
                result = self._scenario(system, settings, http)
        finally:
            system.close()
        self._progress("done")
        return result

    def _scenario(self, system: System, settings: Settings, http: httpx.Client) -> DemoResult:
        s = self.secrets
        now = self.clock.now()
        _, api_key = system.portal.create_api_key(name="demo-office", role="office", now=now)
        # Kept so `mobile-jpki office …` works on this data dir after the demo.
        OperatorKeyFile(self.data_dir).save(api_key)
        operator = OperatorClient(http, api_key)

        # 1. The municipal office: a resident and a My Number Card with keys made on the chip.
        self.out.step("市区町村窓口 — a municipal office issues a My Number Card")
        person_id = operator.register_person(**RESIDENT)
        card = JpkiClient(
            InProcessConnection(create_card(self.data_dir, CARD_ID, clock=self.clock))
        )
        _, personalised = issue_card(
            operator,
            PortalClient(http),
            card,
            person_id=person_id,
            expires_at=now + dt.timedelta(days=365 * 10),
            sign_password=s.card_sign_password,
            auth_pin=s.card_auth_pin,
            card_instruction_key=system.card_issuer_key.public_key(),
        )
        if personalised.sign_certificate is None:
            raise DemoError("the demo's person is an adult: the card needs its signing key")
        self.certs["card-sign"] = personalised.sign_certificate
        self.certs["card-auth"] = personalised.auth_certificate
        self.out.detail(
            f"card '{CARD_ID}': keys generated on the chip, certificates "
            f"{personalised.sign_certificate.serial_number:x} (署名用) and "
            f"{personalised.auth_certificate.serial_number:x} (利用者証明用) written"
        )

        # 2. The first phone applies and registers (スマホ用電子証明書を申請する).
        self.out.step("old-phone — スマホ用電子証明書を申請する (first application)")
        old = self._phone(system, http, OLD_PHONE)
        old.apply(
            card,
            card_password=s.card_sign_password,
            certificates=BOTH,
            sign_password=s.old_phone_sign_password,
            auth_pin=s.old_phone_auth_pin,
        )
        self.out.detail("申請の完了 — the card signed the application (CMS) inside the chip")
        self._issue_and_register(
            system, old, s.old_phone_sign_password, s.old_phone_auth_pin, OLD_PHONE
        )

        # 3. The model change, on the new phone (seed ①-⑬).
        self.out.step("new-phone — 機種変更 (seed ①-⑬)")
        new = self._phone(system, http, NEW_PHONE)
        choices: dict[str, object] = {
            "card_password": s.card_sign_password,
            "certificates": BOTH,
            "sign_password": s.new_phone_sign_password,
            "auth_pin": s.new_phone_auth_pin,
            "model_change": True,
        }
        try:
            new.apply(card, **choices)
            raise DemoError("the service did not ask to revoke the old phone's certificates")
        except ConsentNeeded:
            self.out.detail("⑨ 「旧スマホ用電子証明書は失効されます」 → 同意して次へ")
        new.apply(card, consent=True, **choices)
        self.out.detail("⑩⑪ new passwords set → 申請の完了")
        self._issue_and_register(
            system, new, s.new_phone_sign_password, s.new_phone_auth_pin, NEW_PHONE
        )
        for name in (f"{OLD_PHONE}-sign", f"{OLD_PHONE}-auth"):
            info = system.ca.status(self.certs[name].serial_number)
            reason = info.reason.name if info.reason is not None else "-"
            self.out.detail(f"{name}: {info.status} ({reason}) at {info.revoked_at}")

        # 4. The old phone comes online within 48 hours: its element deletes the certificates.
        self.out.step("old-phone — comes online within 48 hours")
        deleted = old.sync_instructions()
        self.out.detail(
            f"{len(deleted)} signed deletion instruction(s) carried out by the secure element"
        )

        # 5. The new phone signs a PDF inside its element; a relying party verifies it.
        self.out.step("new-phone signs a PDF (PAdES B-T); a relying party verifies it through OCSP")
        verdict = self._sign_and_verify(system, http, new)
        self.out.detail(verdict)

        result = DemoResult(self.data_dir, self._holdings(system, http, card, old, new), verdict)
        for name, phone in ((OLD_PHONE, old), (NEW_PHONE, new)):
            self._save_profile(name, phone)
        result.exported = self._export(system)
        return result

    def _phone(self, system: System, http: httpx.Client, name: str) -> ScriptedPhone:
        applet = create_phone(self.data_dir, name, clock=self.clock)
        phone = ScriptedPhone(
            api=PortalClient(http),
            element=JpkiClient(InProcessConnection(applet)),
            sign_document=self._sign_document,
            clock=self.clock,
        )
        device_id = phone.enrol(push_channel="inprocess")
        self._save_profile(name, phone)
        self.out.detail(f"'{name}' enrolled: secure-element attestation accepted ({device_id})")
        return phone

    def _save_profile(self, name: str, phone: ScriptedPhone) -> None:
        """The app's local state (device id, credential, handled pushes), so that every
        `mobile-jpki phone … --phone NAME` command works on this data dir after the demo."""
        if phone.device_id is None or phone.api.credential is None:
            raise DemoError(f"'{name}' has no device credential after enrolment")
        store = ProfileStore(self.data_dir, name)
        profile = AppProfile(name, phone.device_id, phone.api.credential)
        store.save(profile.updated(seen_push=phone.seen_push))

    def _sign_document(
        self, content: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate
    ) -> bytes:
        return sign_cms(content, key, cert, signing_time=self.clock.now(), detached=False)

    def _issue_and_register(
        self, system: System, phone: ScriptedPhone, password: str, pin: str, name: str
    ) -> None:
        system.context.work_once()  # the issuance job, then push delivery
        topics = phone.handle_push(system.context.inprocess.drain(phone.device_id or ""))
        self.out.detail(f"push: {', '.join(topics) or '(none)'}")
        for entry in phone.my_page().get("entries", []):
            self.out.detail(f"マイページ: {entry.get('kind')} — {entry.get('label')}")
        phone.register(sign_password=password, auth_pin=pin)
        self.out.detail("⑫⑬ 登録する → 登録完了: 登録が完了しました。")
        for hierarchy, secret in ((Hierarchy.SIGN, password), (Hierarchy.AUTH, pin)):
            phone.element.select_ap()
            phone.element.verify(hierarchy, secret)
            self.certs[f"{name}-{hierarchy.value}"] = phone.element.read_certificate(hierarchy)

    def _sign_and_verify(self, system: System, http: httpx.Client, phone: ScriptedPhone) -> str:
        element = phone.element
        element.select_ap()
        element.verify(Hierarchy.SIGN, self.secrets.new_phone_sign_password)
        cert = element.read_certificate(Hierarchy.SIGN)
        public = cert.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise DemoError("the phone's signing certificate is not RSA")
        key = ApduRSAPrivateKey(element, Hierarchy.SIGN, public)
        roots = [summary.certificate for summary in system.ca.cas()]
        root = TrustAnchors(tuple(roots)).issuer_of(cert)
        if root is None:
            raise DemoError("the new phone's signing certificate does not chain to our roots")
        signed = sign_pdf_bytes(
            minimal_pdf("mobile-jpki demo: signed by new-phone"),
            key,
            cert,
            [root],
            level=Level.B_T,
            now=self.clock.now(),
            tsa_exchange=lambda query: _tsa_exchange(http, query),
        )
        out = self.data_dir / "export" / "signed-by-new-phone.pdf"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(signed)
        verdict = verify_pdf(
            signed,
            anchors=TrustAnchors(tuple(roots)),
            now=self.clock.now(),
            revocation=RevocationCheck(HttpFetcher(http)),
        )
        stamped = [sig.timestamp for sig in verdict.signatures if sig.timestamp is not None]
        when = f", time-stamped {stamped[0]:%Y-%m-%d %H:%M:%SZ} by /tsa" if stamped else ""
        return f"{out.name}: {verdict.summary()}{when}"

    def _holdings(
        self,
        system: System,
        http: httpx.Client,
        card: JpkiClient,
        old: ScriptedPhone,
        new: ScriptedPhone,
    ) -> list[Holding]:
        """Ask each chip whether it still holds the certificate (SELECT answers 6A 82 once a
        signed deletion ran), and the OCSP responder named in the certificate what it says."""
        fetcher = HttpFetcher(http)
        roots = TrustAnchors(tuple(summary.certificate for summary in system.ca.cas()))
        chips = {"card": ("card", card), OLD_PHONE: (OLD_PHONE, old.element)}
        chips[NEW_PHONE] = (NEW_PHONE, new.element)
        rows = []
        for name, cert in self.certs.items():
            owner, kind = name.rsplit("-", 1)
            label, chip = chips[owner]
            chip.select_ap()
            try:
                chip.select_ef(CERT_EF[Hierarchy(kind)])
                where = f"on {label}"
            except FileNotFound:
                where = f"deleted from {label}"
            issuer = roots.issuer_of(cert)
            status = "unknown issuer"
            if issuer is not None:
                result = check_revocation(cert, issuer, fetcher, now=self.clock.now())
                status = result.status.value
                if result.reason_word:
                    status += f" ({result.reason_word})"
                if result.revoked_at is not None:
                    status += f" {result.revoked_at:%Y-%m-%d %H:%M:%SZ}"
            rows.append(Holding(name, cert.serial_number, where, status))
        return rows

    def _export(self, system: System) -> list[Path]:
        folder = self.data_dir / "export"
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for summary in system.ca.cas():
            if summary.active:
                path = folder / f"{summary.hierarchy.value}-ca.pem"
                path.write_bytes(summary.certificate.public_bytes(Encoding.PEM))
                written.append(path)
        for name, cert in self.certs.items():
            path = folder / f"{name}.pem"
            path.write_bytes(cert.public_bytes(Encoding.PEM))
            written.append(path)
        secrets_path = folder / "secrets.json"
        # 0600 from creation on, also over an older, wider file (atomic_write's default mode).
        atomic_write(
            secrets_path,
            (json.dumps(self.secrets.__dict__, indent=2, ensure_ascii=False) + "\n").encode(),
        )
        written.append(secrets_path)
        return written
