"""``mobile-jpki rp``: register a relying party with its public JWKS (or a generated key), list
and remove them (issue 18 §2), and each refusal as one line with its exit code."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey, RSAKey
from sqlalchemy import text
from typer.testing import CliRunner

from mobile_jpki.cli.main import app
from mobile_jpki.service.authapp.clients import (
    ClientRegistry,
    generate_private_jwk,
    public_jwks,
)
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database

CLIENT_ID = r"[0-9A-Za-z]{1,255}"


def run(*args: str, code: int = 0) -> tuple[str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output + result.stderr
    return result.stdout, result.stderr


def registered(data: Path) -> list[str]:
    settings = Settings.load(data)
    db = Database(settings.effective_database_url)
    try:
        return [c.client_id for c in ClientRegistry(db).list()]
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rp") / "data"
    init_data_dir(path, dt.datetime.now(dt.UTC), sandbox=True)
    return path


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "rp.jwks.json"
    path.write_text(json.dumps(public_jwks(generate_private_jwk("EC"))))
    return path


def test_register_prints_the_client_id_last_and_list_shows_it(data: Path, jwks_file: Path) -> None:
    out, _ = run("rp", "register", "--data-dir", str(data), "--name", "Example RP",
                 "--redirect-uri", "http://127.0.0.1:9000/callback",
                 "--redirect-uri", "http://localhost:9000/callback",
                 "--jwks", str(jwks_file))  # fmt: skip
    client_id = out.splitlines()[-1]
    assert re.fullmatch(CLIENT_ID, client_id), out
    assert client_id in registered(data)
    kid = json.loads(jwks_file.read_text())["keys"][0]["kid"]

    table, _ = run("rp", "list", "--data-dir", str(data))
    line = next(line for line in table.splitlines() if line.startswith(client_id))
    assert "Example RP" in line and kid in line
    assert "http://127.0.0.1:9000/callback http://localhost:9000/callback" in line

    listed, _ = run("rp", "list", "--data-dir", str(data), "--json")
    entry = next(e for e in json.loads(listed) if e["client_id"] == client_id)
    assert entry["name"] == "Example RP"
    assert entry["redirect_uris"] == [
        "http://127.0.0.1:9000/callback",
        "http://localhost:9000/callback",
    ]
    assert entry["key_ids"] == [kid]

    out, _ = run("rp", "remove", client_id, "--data-dir", str(data))
    assert client_id in out
    assert client_id not in registered(data)
    _, err = run("rp", "remove", client_id, "--data-dir", str(data), code=3)
    assert err.startswith("error: ") and client_id in err and len(err.splitlines()) == 1


def test_generate_key_writes_a_private_jwk_whose_public_part_is_registered(
    data: Path, tmp_path: Path
) -> None:
    out_file = tmp_path / "rp.jwk"
    out, _ = run("rp", "register", "--data-dir", str(data), "--name", "Generated",
                 "--redirect-uri", "http://127.0.0.1:9000/callback",
                 "--generate-key", str(out_file))  # fmt: skip
    client_id = out.splitlines()[-1]
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    private = json.loads(out_file.read_text())
    assert "d" in private and private["kid"]

    settings = Settings.load(data)
    db = Database(settings.effective_database_url)
    try:
        client = ClientRegistry(db).get(client_id)
    finally:
        db.dispose()
    assert client is not None and client.key_ids() == (private["kid"],)
    assert "d" not in client.jwks["keys"][0]
    # The file's key signs what the registered public JWKS verifies (a private_key_jwt).
    token = jwt.encode({"alg": "RS256", "kid": private["kid"]}, {"iss": client_id},
                       RSAKey.import_key(private))  # fmt: skip
    assert jwt.decode(token, client.key_set()).claims["iss"] == client_id

    # Never over an existing file: the key stays, nothing more is registered.
    before = registered(data)
    _, err = run("rp", "register", "--data-dir", str(data), "--name", "Again",
                 "--redirect-uri", "http://127.0.0.1:9000/callback",
                 "--generate-key", str(out_file), code=2)  # fmt: skip
    assert "already exists" in err and len(err.splitlines()) == 1
    assert json.loads(out_file.read_text()) == private
    assert registered(data) == before


def test_a_refused_registration_leaves_no_generated_key(data: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "rp.jwk"
    _, err = run("rp", "register", "--data-dir", str(data), "--name", "Bad",
                 "--redirect-uri", "ftp://example.test/cb",
                 "--generate-key", str(out_file), code=2)  # fmt: skip
    assert "redirect URI" in err and len(err.splitlines()) == 1
    assert not out_file.exists()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"keys": []}', "no key"),
        ('["a"]', "not a JWK Set"),
        ("PRIVATE", "private key material"),
        ('{"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}', "private key material"),
        ("OKP", "only RSA and EC keys"),
        ('{"keys": [{"kty": "XYZ", "kid": "x"}]}', "does not load"),
    ],
)
def test_a_bad_jwks_file_is_one_line_exit_2(
    data: Path, tmp_path: Path, content: str, message: str
) -> None:
    if content == "PRIVATE":
        content = json.dumps({"keys": [generate_private_jwk()]})
    elif content == "OKP":
        okp = OKPKey.generate_key("Ed25519", auto_kid=True).as_dict(private=False)
        content = json.dumps({"keys": [okp]})
    before = registered(data)
    _, err = run("rp", "register", "--data-dir", str(data), "--name", "X",
                 "--redirect-uri", "http://127.0.0.1:9000/cb",
                 "--jwks", str(_write(tmp_path, content)), code=2)  # fmt: skip
    assert err.startswith("error: ") and message in err, err
    assert len(err.splitlines()) == 1
    assert registered(data) == before


@pytest.mark.parametrize(
    "uri",
    ["not a uri", "ftp://example.test/cb", "http://127.0.0.1:9000/cb#frag", "/relative"],
)
def test_a_bad_redirect_uri_is_one_line_exit_2(data: Path, jwks_file: Path, uri: str) -> None:
    _, err = run("rp", "register", "--data-dir", str(data), "--name", "X",
                 "--redirect-uri", uri, "--jwks", str(jwks_file), code=2)  # fmt: skip
    assert err.startswith("error: ") and "redirect URI" in err and len(err.splitlines()) == 1


def test_usage_and_setup_errors(data: Path, jwks_file: Path, tmp_path: Path) -> None:
    both = ("--jwks", str(jwks_file), "--generate-key", str(tmp_path / "k.jwk"))
    for keys in ((), both):
        _, err = run("rp", "register", "--data-dir", str(data), "--name", "X",
                     "--redirect-uri", "http://127.0.0.1:9000/cb", *keys, code=2)  # fmt: skip
        assert "exactly one of --jwks" in err
    _, err = run("rp", "register", "--data-dir", str(data), "--name", "X",
                 "--redirect-uri", "http://127.0.0.1:9000/cb",
                 "--jwks", str(tmp_path / "missing.json"), code=2)  # fmt: skip
    assert "no such file" in err
    _, err = run("rp", "list", "--data-dir", str(tmp_path / "nowhere"), code=5)
    assert "not a mobile-jpki data directory" in err and len(err.splitlines()) == 1


@pytest.mark.postgres
def test_register_list_remove_on_postgresql(tmp_path: Path, jwks_file: Path) -> None:
    """The same on a data directory whose database is PostgreSQL (``--database-url``)."""
    url = os.environ.get("MOBILE_JPKI_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MOBILE_JPKI_TEST_POSTGRES_URL not set")
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()
    data = tmp_path / "pg"
    init_data_dir(data, dt.datetime.now(dt.UTC), sandbox=True, database_url=url)
    out, _ = run("rp", "register", "--data-dir", str(data), "--database-url", url,
                 "--name", "PG RP", "--redirect-uri", "http://127.0.0.1:9000/callback",
                 "--jwks", str(jwks_file))  # fmt: skip
    client_id = out.splitlines()[-1]
    listed, _ = run("rp", "list", "--data-dir", str(data), "--json")
    assert [e["client_id"] for e in json.loads(listed)] == [client_id]
    run("rp", "remove", client_id, "--data-dir", str(data), "--database-url", url)
    assert registered(data) == []


def test_rotate_key_publishes_the_new_key_beside_the_retired_one(data: Path) -> None:
    from mobile_jpki.service.authapp.keys import TwinKeys

    first, _ = run("rp", "rotate-key", "--data-dir", str(data))
    kid1 = first.strip().splitlines()[-1]
    second, _ = run("rp", "rotate-key", "--data-dir", str(data))
    kid2 = second.strip().splitlines()[-1]
    assert kid1 != kid2
    assert kid1 in second and kid2 in second  # both published
    settings = Settings.load(data)
    db = Database(settings.effective_database_url)
    try:
        keys = TwinKeys(db, settings.ca_passphrase)
        now = dt.datetime.now(dt.UTC)
        assert keys.signing_key(now).kid == kid2  # the new key signs
        published = {k["kid"] for k in keys.jwks(now)["keys"]}
        assert {kid1, kid2} <= published
        later = {k["kid"] for k in keys.jwks(now + dt.timedelta(days=2))["keys"]}
        assert kid1 not in later and kid2 in later  # retired keys leave after the grace
    finally:
        db.dispose()
