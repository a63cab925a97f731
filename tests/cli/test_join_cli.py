"""Several hosts on one database (issue 19, docs/deploy.md): `ca init` once, `ca join` for every
other host, and a start-up check that refuses, in one line, a host whose keys are missing or
differ from what the database records."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from mobile_jpki.cli.main import app
from mobile_jpki.clock import SystemClock
from mobile_jpki.runtime import open_system
from mobile_jpki.service import shared_keys
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import AuditRecord, SharedKey
from mobile_jpki.store.portal import DeviceInstruction as Instruction

RESIDENT = [
    "--family-name", "デジタル", "--given-name", "花子", "--sex", "female",
    "--birth", "1990-04-01", "--address", "東京都千代田区紀尾井町一丁目三番",
    "--prefecture-romaji", "Tokyo", "--city-romaji", "Chiyoda-ku",
]  # fmt: skip
CARD = ["--card", "card", "--card-password", "CARD1234", "--accept-terms"]


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def fingerprint(path: Path, passphrase: bytes) -> str:
    key = serialization.load_pem_private_key(path.read_bytes(), passphrase)
    return shared_keys.spki_sha256(key.public_key())


@pytest.fixture(scope="module")
def first_host(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("hosts")
    url = f"sqlite:///{root / 'shared.db'}"
    run("ca", "init", "--data-dir", str(root / "a"), "--database-url", url)
    return root / "a", url


def joined(first: tuple[Path, str], data: Path, *, key_dir: Path | None = None) -> Path:
    """``data`` joined as documented: the first host's CA passphrase given to it, the shared
    key directory named."""
    a, url = first
    (data / "ca").mkdir(parents=True)
    shutil.copy(a / "ca" / "passphrase", data / "ca" / "passphrase")
    out = run(
        "ca", "join", "--data-dir", str(data), "--database-url", url,
        "--key-dir", str(key_dir or a / "ca"),
    )  # fmt: skip
    assert "fetched the instruction key" in out
    return data


def test_ca_init_keeps_the_shared_keys_in_the_database(first_host: tuple[Path, str]) -> None:
    """Made at `ca init`, not at the first `serve`: a copy taken in between is no second CA."""
    a, url = first_host
    rows = shared_keys.recorded(Database(url))
    assert {"instruction", "card-issuer", "manufacturer", "tsa"} <= set(rows)
    passphrase = (a / "ca" / "passphrase").read_bytes().strip()
    assert rows["instruction"].spki_sha256 == fingerprint(
        a / "portal" / "instruction-key.pem", passphrase
    )
    assert rows["instruction"].sealed is not None
    assert b"ENCRYPTED PRIVATE KEY" in rows["instruction"].sealed


def test_ca_init_of_a_second_host_refuses_and_points_at_join(
    first_host: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = first_host
    out = run("ca", "init", "--data-dir", str(tmp_path / "b"), "--database-url", url, code=4)
    assert "ca join" in one_line(out)
    assert not (tmp_path / "b").exists()  # nothing half-made


def test_joined_hosts_hold_the_same_keys(first_host: tuple[Path, str], tmp_path: Path) -> None:
    a, _ = first_host
    b = joined(first_host, tmp_path / "b")
    passphrase = (a / "ca" / "passphrase").read_bytes().strip()
    for name in ("portal/instruction-key.pem", "portal/card-issuer-key.pem", "ca/tsa.key.pem"):
        assert fingerprint(b / name, passphrase) == fingerprint(a / name, passphrase)
    assert (b / "devices/manufacturer/root.pem").read_bytes() == (
        a / "devices/manufacturer/root.pem"
    ).read_bytes()
    system_a = open_system(Settings.load(a), SystemClock())
    system_b = open_system(Settings.load(b), SystemClock())
    try:
        key_a, key_b = system_a.portal.instruction_key, system_b.portal.instruction_key
        assert shared_keys.spki_sha256(key_a.public_key()) == shared_keys.spki_sha256(
            key_b.public_key()
        )
    finally:
        system_a.close()
        system_b.close()


def test_join_without_the_ca_keys_is_one_line(first_host: tuple[Path, str], tmp_path: Path) -> None:
    a, url = first_host
    data = tmp_path / "d"
    (data / "ca").mkdir(parents=True)
    shutil.copy(a / "ca" / "passphrase", data / "ca" / "passphrase")
    out = run("ca", "join", "--data-dir", str(data), "--database-url", url, code=5)
    line = one_line(out)
    assert "cannot be opened" in line and "--key-dir" in line


def test_join_without_the_passphrase_is_one_line(
    first_host: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, url = first_host
    monkeypatch.delenv("MOBILE_JPKI_CA_PASSPHRASE", raising=False)
    out = run(
        "ca", "join", "--data-dir", str(tmp_path / "p"), "--database-url", url,
        "--key-dir", str(a / "ca"), code=5,
    )  # fmt: skip
    assert "passphrase" in one_line(out)


def test_a_host_with_another_instruction_key_refuses_to_start(
    first_host: tuple[Path, str], tmp_path: Path
) -> None:
    """The split of issue 19: a host signing with a key of its own. Now it does not start."""
    a, _ = first_host
    e = joined(first_host, tmp_path / "e")
    passphrase = (a / "ca" / "passphrase").read_bytes().strip()
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    (e / "portal" / "instruction-key.pem").write_bytes(other)
    line = one_line(run("serve", "--data-dir", str(e), "--port", "9", code=5))
    assert "not the instruction key the database records" in line
    with pytest.raises(shared_keys.HostKeyError, match="instruction key"):
        open_system(Settings.load(e), SystemClock())
    # The in-process CLI opens the same system: the same line, not a traceback.
    out = run("office", "register-person", "--data-dir", str(e), *RESIDENT, code=5)
    assert "not the instruction key" in one_line(out)
    # A missing one is named too, and not made afresh behind the operator's back.
    (e / "portal" / "instruction-key.pem").unlink()
    line = one_line(run("serve", "--data-dir", str(e), "--port", "9", code=5))
    assert "is missing" in line and "ca join" in line
    assert not (e / "portal" / "instruction-key.pem").exists()


def test_a_host_missing_ca_key_files_is_one_line(
    first_host: tuple[Path, str], tmp_path: Path
) -> None:
    a, _ = first_host
    keys = tmp_path / "keys"
    shutil.copytree(a / "ca", keys)
    f = joined(first_host, tmp_path / "f", key_dir=keys)
    (keys / "sign-1.key.pem").unlink()
    line = one_line(run("serve", "--data-dir", str(f), "--port", "9", code=5))
    assert "sign-1" in line and "cannot be opened" in line
    assert "sign-1" in one_line(run("ca", "status", "1", "--data-dir", str(f), code=5))


def test_a_database_from_before_the_records_adopts_the_first_host(tmp_path: Path) -> None:
    """A database made before migration 0009 has no records: the first host to start records
    its keys, and a host with other keys then refuses (never two keys in use)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    run("ca", "init", "--data-dir", str(tmp_path / "a"), "--database-url", url)
    db = Database(url)
    with db.transaction() as s:
        s.execute(text("DELETE FROM shared_key"))
    (tmp_path / "a" / "portal" / "instruction-key.pem").unlink()  # made lazily, as before
    open_system(Settings.load(tmp_path / "a"), SystemClock()).close()
    assert "instruction" in shared_keys.recorded(db)
    assert (tmp_path / "a" / "portal" / "instruction-key.pem").is_file()


# -- the refusal the split used to hide ---------------------------------------------------------
def register(d: str, phone: str, base: list[str], password: str, pin: str) -> None:
    """登録する once 登録準備完了: at once in process; over HTTP the issuance job runs in a
    server's worker (either host's), so the phone waits for it as the app does."""
    args = ["phone", "register", "--data-dir", d, "--phone", phone, *base,
            "--sign-password", password, "--auth-pin", pin]  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        result = CliRunner().invoke(app, args)
        if result.exit_code == 0 or "nothing is ready" not in result.output:
            assert result.exit_code == 0, result.output
            return
        assert time.monotonic() < deadline, "not ready to register within 60 s"
        time.sleep(0.3)


def _person_card_and_old_phone(d: str, base: list[str]) -> None:
    person = run("office", "register-person", "--data-dir", d, *RESIDENT).strip()
    run("office", "issue-card", "--data-dir", d, "--person", person, "--card", "card",
        "--sign-password", "card1234", "--auth-pin", "1234")  # fmt: skip
    run("phone", "new", "--data-dir", d, "--phone", "old")
    run("phone", "apply", "--data-dir", d, "--phone", "old", *CARD, *base,
        "--sign-password", "OLD1111", "--auth-pin", "1111")  # fmt: skip
    register(d, "old", base, "old1111", "1111")


def _model_change(d: str, base: list[str]) -> None:
    run("phone", "new", "--data-dir", d, "--phone", "new")
    run("phone", "model-change", "--data-dir", d, "--phone", "new", *CARD, *base,
        "--consent", "--sign-password", "NEW2222", "--auth-pin", "2222")  # fmt: skip
    register(d, "new", base, "NEW2222", "2222")


def test_an_instruction_the_element_refuses_is_reported_and_recorded(tmp_path: Path) -> None:
    """An instruction signed with a key other than the one the old phone's element was
    personalised with (what two unjoined hosts did) is refused with 69 82: `phone sync` says so
    in one line and exits 4, and the service records the refusal (it used to print "no
    instruction to carry out", exit 0, and the revoked certificates stayed unnoticed)."""
    data = tmp_path / "data"
    run("ca", "init", "--data-dir", str(data))
    d = str(data)
    _person_card_and_old_phone(d, [])
    _model_change(d, [])
    # The service now signs with another key (recorded, so the start-up check passes: the
    # element is the only one left to notice).
    settings = Settings.load(data)
    other = ec.generate_private_key(ec.SECP256R1())
    (data / "portal" / "instruction-key.pem").write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(settings.ca_passphrase()),
        )
    )
    db = Database(settings.effective_database_url)
    with db.transaction() as s:
        s.execute(
            update(SharedKey)
            .where(SharedKey.name == "instruction")
            .values(spki_sha256=shared_keys.spki_sha256(other.public_key()))
        )
    line = one_line(run("phone", "sync", "--data-dir", d, "--phone", "old", code=4))
    assert "SW 6982" in line and "reported" in line
    with db.transaction(write=False) as s:
        rows = list(s.scalars(select(Instruction).where(Instruction.refused_at.is_not(None))))
        assert [r.refused_sw for r in rows] == ["6982"]
        actions = list(s.scalars(select(AuditRecord.action)))
    assert "portal.instruction.refused" in actions
    assert "certificates:" in run("phone", "info", "--data-dir", d, "--phone", "old")


# -- two hosts, one PostgreSQL database, two servers --------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("MOBILE_JPKI_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MOBILE_JPKI_TEST_POSTGRES_URL not set")
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()
    return url


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _serve(data: Path, servers: list[subprocess.Popen[bytes]]) -> str:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    command = [sys.executable, "-m", "mobile_jpki", "serve", "--data-dir", str(data),
               "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    servers.append(proc)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{data}: serve did not start")


@pytest.mark.postgres
def test_two_hosts_joined_as_documented_serve_and_agree(
    postgres_url: str, tmp_path: Path, servers: list[subprocess.Popen[bytes]]
) -> None:
    """docs/deploy.md, two hosts: `ca init` on the first, `ca join` on the second, both serve.
    The old phone is personalised through host A; the model change and the deletion
    instruction go through host B, and the old phone's element accepts B's instruction."""
    a = tmp_path / "a"
    run("ca", "init", "--data-dir", str(a), "--database-url", postgres_url,
        "--base-url", "http://127.0.0.1:8000")  # fmt: skip
    b = joined((a, postgres_url), tmp_path / "b")
    host_a, host_b = _serve(a, servers), _serve(b, servers)
    d = str(a)  # the person's card and phones (emulated devices live with one data dir)
    _person_card_and_old_phone(d, ["--base-url", host_a])
    _model_change(d, ["--base-url", host_b])
    out = run("phone", "sync", "--data-dir", d, "--phone", "old", "--base-url", host_b)
    assert "1 instruction(s) carried out" in out
    info = run("phone", "info", "--data-dir", d, "--phone", "old")
    assert "certificates:" in info and "none" in info
    # Host A sees what was registered through host B (one database, the same CA).
    status = run("phone", "status", "--data-dir", d, "--phone", "new", "--base-url", host_a)
    assert status.count(" good ") == 2
