"""``mobile-jpki office``: the municipal office terminal and the hotline, scripted.

Also the connection to the service that ``mobile-jpki phone`` shares: in-process on the data
directory by default (the portal's worker runs once after each change, as in the demo), or over
HTTP to a running ``mobile-jpki serve`` with ``--base-url`` (its worker then runs in serve).

Exit codes (one scheme for every command, see :mod:`mobile_jpki.cli.card` and docs/cli.md):
0 success; 1 transport failure (reader, network); 2 usage error (bad id, malformed password,
missing secret without a terminal); 3 not found (device, profile, person); 4 refused (the card,
the element or the service said no: wrong or blocked password, revoked, not eligible);
5 data directory or state problem.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from mobile_jpki.cli.card import (
    EXIT_USAGE,
    DataDir,
    cli_errors,
    fail,
)
from mobile_jpki.clock import Clock, SystemClock
from mobile_jpki.phone.client import OperatorClient, PortalClient
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.profile import OperatorKeyFile
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import create_card, remove_card, validate_id

OPERATOR_KEY_ENV = "MOBILE_JPKI_OPERATOR_KEY"
# The role the portal's operator keys carry for the municipal office terminal (the demo's too).
OFFICE_ROLE = "office"

# Tests replace this; the commands read it at call time.
clock: Clock = SystemClock()

app = typer.Typer(
    help="The municipal office terminal (市区町村窓口) and the hotline (0120-95-0178): "
    "register residents, issue My Number Cards, 異動, 一時利用停止. In-process on --data-dir, "
    "or over HTTP with --base-url and an operator API key.",
    no_args_is_help=True,
)

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Talk to a running `mobile-jpki serve` at this URL instead of opening the data "
        "directory's service in-process (devices still live in --data-dir).",
        envvar="MOBILE_JPKI_BASE_URL",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Operator API key (needed with --base-url; in-process one is made at first use "
        "and kept in DIR/portal/operator-api-key).",
        envvar=OPERATOR_KEY_ENV,
    ),
]
PersonId = Annotated[str, typer.Option("--person", help="Person id (from register-person).")]


# -- secrets: flags for scripts, hidden prompts for people -------------------------------------
def interactive() -> bool:
    """Prompts only on a terminal: a script without the flag gets an error, never a hang."""
    return sys.stdin.isatty()


def secret(value: str | None, *, flag: str, prompt: str, confirm: bool = False) -> str:
    if value is not None:
        return value
    if not interactive():
        fail(f"{flag} is required when stdin is not a terminal", EXIT_USAGE)
    answer: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return answer


# -- the service ----------------------------------------------------------------------------
@dataclass
class Service:
    """One connection to the service: an HTTP client, and the in-process system if any."""

    data_dir: Path
    http: httpx.Client
    system: Any | None  # mobile_jpki.runtime.System when in-process
    base_url: str | None
    # The data directory's clock: the module's ``clock`` plus the sandbox offset when the data
    # directory is a sandbox (store.clock_offset.clock_for), so the emulated devices and the
    # service agree after `mobile-jpki clock advance`.
    clock: Clock = field(default_factory=lambda: clock)

    def work(self) -> None:
        """In-process only: run the portal's issuance jobs and push delivery once."""
        if self.system is not None:
            self.system.context.work_once()

    def inbox(self, device_id: str) -> list[Any]:
        """Push messages delivered in-process to ``device_id`` (over HTTP they stream to the
        device's SSE channel, which a one-shot command does not hold open)."""
        if self.system is None:
            return []
        return list(self.system.context.inprocess.drain(device_id))

    def operator(self, api_key: str | None) -> OperatorClient:
        if api_key:
            return OperatorClient(self.http, api_key)
        if self.system is None:
            fail(f"--api-key (or ${OPERATOR_KEY_ENV}) is required with --base-url", EXIT_USAGE)
        keyfile = OperatorKeyFile(self.data_dir)
        key = keyfile.load()
        if key is None:
            _, key = self.system.portal.create_api_key(
                name="cli", role=OFFICE_ROLE, now=clock.now()
            )
            keyfile.save(key)
        return OperatorClient(self.http, key)

    def portal(self, credential: str | None = None) -> PortalClient:
        return PortalClient(self.http, credential=credential)


@contextmanager
def connect(data_dir: Path, base_url: str | None) -> Iterator[Service]:
    if base_url:
        local = _local_clock(data_dir)
        with httpx.Client(base_url=base_url.rstrip("/"), timeout=60.0) as http:
            yield Service(data_dir, http, None, base_url, local)
        return
    from mobile_jpki.runtime import open_system
    from mobile_jpki.settings import Settings

    settings = Settings.load(data_dir)
    system = open_system(settings, clock)
    try:
        with system.client() as http:
            yield Service(data_dir, http, system, None, system.clock)
    finally:
        system.close()


def _local_clock(data_dir: Path) -> Clock:
    """With --base-url: the devices in ``data_dir`` follow its sandbox clock when it has one
    (the server on the same data directory reads the same offset)."""
    from mobile_jpki.settings import Settings, SettingsError
    from mobile_jpki.store.clock_offset import clock_for
    from mobile_jpki.store.db import Database, StoreError

    try:
        settings = Settings.load(data_dir)
        if not settings.sandbox:
            return clock
        return clock_for(settings, Database(settings.effective_database_url), base=clock)
    except (SettingsError, StoreError):
        return clock  # devices only in this directory: the wall clock


# -- commands -----------------------------------------------------------------------------
def _facts(
    family_name: str,
    given_name: str,
    sex: str,
    birth: str,
    address: str,
    prefecture_romaji: str,
    city_romaji: str,
) -> dict[str, object]:
    if sex not in ("male", "female", "unknown"):
        fail("--sex is male, female or unknown", EXIT_USAGE)
    try:
        born = dt.date.fromisoformat(birth)
    except ValueError:
        fail(f"--birth {birth!r} is not a date YYYY-MM-DD", EXIT_USAGE)
    return {
        "family_name": family_name,
        "given_name": given_name,
        "sex": sex,
        "date_of_birth": born,
        "address": address,
        "prefecture_romaji": prefecture_romaji,
        "city_romaji": city_romaji,
    }


FamilyName = Annotated[str, typer.Option("--family-name", help="氏 (kanji), e.g. デジタル.")]
GivenName = Annotated[str, typer.Option("--given-name", help="名 (kanji), e.g. 花子.")]
SexOpt = Annotated[str, typer.Option("--sex", help="male, female or unknown.")]
Birth = Annotated[str, typer.Option("--birth", help="Date of birth, YYYY-MM-DD.")]
Address = Annotated[str, typer.Option("--address", help="住所 (≤ 200 characters, no postcode).")]
Prefecture = Annotated[
    str, typer.Option("--prefecture-romaji", help="Prefecture in romaji (subject L=), e.g. Tokyo.")
]
City = Annotated[
    str, typer.Option("--city-romaji", help="City in romaji (subject L=), e.g. Chiyoda-ku.")
]


@app.command("register-person")
def register_person(
    data_dir: DataDir,
    family_name: FamilyName,
    given_name: GivenName,
    sex: SexOpt,
    birth: Birth,
    address: Address,
    prefecture_romaji: Prefecture,
    city_romaji: City,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Register a resident with the basic four facts (基本4情報) the signing certificate carries.

    Prints the person id, which `issue-card`, `move` and `hold` take.
    """
    facts = _facts(family_name, given_name, sex, birth, address, prefecture_romaji, city_romaji)
    with cli_errors(), connect(data_dir, base_url) as svc:
        typer.echo(svc.operator(api_key).register_person(**facts))


@app.command("issue-card")
def issue_card_cmd(
    data_dir: DataDir,
    person: PersonId,
    card: Annotated[str, typer.Option("--card", help="Id of the new emulated card.")] = "card",
    sign_password: Annotated[
        str | None,
        typer.Option(
            "--sign-password",
            help="The card's signing password (6-16 of A-Z/0-9, letters and digits mixed). "
            "Prompted (hidden, twice) when absent.",
            envvar="MOBILE_JPKI_CARD_PASSWORD",
        ),
    ] = None,
    auth_pin: Annotated[
        str | None,
        typer.Option(
            "--auth-pin",
            help="The card's user-authentication PIN (4 digits). Prompted when absent.",
            envvar="MOBILE_JPKI_CARD_PIN",
        ),
    ] = None,
    years: Annotated[int, typer.Option("--years", help="Card validity in years.", min=1)] = 10,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Issue a My Number Card: create the emulated card, generate its keys on the chip, have
    the service certify them, and set the card's password and PIN (the card applied with at
    seed ④ and read at ⑧). A person under 15 gets the user-authentication certificate only
    (no signing password is asked). If personalisation fails, the card record and the
    emulated card are removed (or the record cancelled, with what was issued revoked)."""
    from mobile_jpki.reader.passwords import normalise_sign_password, validate_auth_pin

    def password() -> str:  # asked only when the person gets a signing certificate
        return normalise_sign_password(
            secret(sign_password, flag="--sign-password", prompt="Card signing password",
                   confirm=True)
        )  # fmt: skip

    with cli_errors():
        validate_id(card)
        pin = validate_auth_pin(
            secret(auth_pin, flag="--auth-pin", prompt="Card user-auth PIN", confirm=True)
        )
        with connect(data_dir, base_url) as svc:
            operator = svc.operator(api_key)
            if svc.system is not None:
                issuer = svc.system.card_issuer_key.public_key()
            else:
                fail(
                    "issue-card personalises the card with the office's instruction key, "
                    "which lives in the data directory: run it without --base-url",
                    EXIT_USAGE,
                )
            applet = create_card(data_dir, card, clock=clock)
            try:
                record, done = issue_card(
                    operator,
                    svc.portal(),
                    JpkiClient(InProcessConnection(applet)),
                    person_id=person,
                    expires_at=clock.now() + dt.timedelta(days=365 * years),
                    sign_password=password,
                    auth_pin=pin,
                    card_instruction_key=issuer,
                )
            except BaseException:
                remove_card(data_dir, card)  # no half-personalised card is left behind
                raise
    typer.echo(f"card {card!r} issued (card record {record})")
    if done.sign_certificate is None:
        typer.echo("  署名用電子証明書     not issued (15歳未満の方には発行されません)")
    else:
        typer.echo(f"  署名用電子証明書     serial {done.sign_certificate.serial_number:x}")
    typer.echo(f"  利用者証明用電子証明書 serial {done.auth_certificate.serial_number:x}")


@app.command("move")
def move(
    data_dir: DataDir,
    person: PersonId,
    family_name: FamilyName,
    given_name: GivenName,
    sex: SexOpt,
    birth: Birth,
    address: Address,
    prefecture_romaji: Prefecture,
    city_romaji: City,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """異動: record a change of name or address. Every signing certificate of the person (card
    and phone) is revoked with reason affiliationChanged; user-auth certificates survive.

    The operator API replaces the facts whole, so give all of them, changed or not.
    """
    facts = _facts(family_name, given_name, sex, birth, address, prefecture_romaji, city_romaji)
    with cli_errors(), connect(data_dir, base_url) as svc:
        serials = svc.operator(api_key).change_facts(person, **facts)
        svc.work()
    _revoked(serials, "affiliationChanged")


@app.command("hold")
def hold(
    data_dir: DataDir, person: PersonId, base_url: BaseUrl = None, api_key: ApiKey = None
) -> None:
    """The hotline's 一時利用停止 (loss or theft, 24/365): suspend the person's smartphone
    certificates and the card's (certificateHold). Released in the app with the card
    (`mobile-jpki phone release`), which also lifts the card's hold, or for the card alone
    at the office (`mobile-jpki office release`)."""
    with cli_errors(), connect(data_dir, base_url) as svc:
        serials = svc.operator(api_key).hold_phone(person)
        svc.work()
    _revoked(serials, "certificateHold")


@app.command("release")
def release(
    data_dir: DataDir, person: PersonId, base_url: BaseUrl = None, api_key: ApiKey = None
) -> None:
    """At the municipal office: lift the hotline's hold on the person's My Number Card (both
    its certificates are un-held). The phones' holds are released in the app
    (`mobile-jpki phone release`): there the signing certificate is re-issued."""
    with cli_errors(), connect(data_dir, base_url) as svc:
        serials = svc.operator(api_key).release_card(person)
        svc.work()
    for serial in serials:
        typer.echo(f"{serial}  released (一時利用停止の解除)")


@app.command("replace-card")
def replace_card(
    data_dir: DataDir,
    card_record: Annotated[
        str, typer.Option("--card-record", help="The card record id printed by issue-card.")
    ],
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Card replaced (再交付): the old card's certificates and the phone certificates applied
    with them are revoked; the phone must apply again with the new card."""
    with cli_errors(), connect(data_dir, base_url) as svc:
        serials = svc.operator(api_key).replace_card(card_record)
        svc.work()
    _revoked(serials, "superseded")


def _revoked(serials: list[str], reason: str) -> None:
    if not serials:
        typer.echo("no certificate was affected")
    for serial in serials:
        typer.echo(f"{serial}  {reason}")


__all__ = ["Service", "app", "clock", "connect", "interactive", "secret"]
