"""The signing commands (``phone sign-cms``, ``card sign-cms``, ``phone sign-pdf``): CMS that
openssl and our verifier accept, the certificate-status gate (issue 16 §6: after
``phone revoke --sign``, ``sign-pdf`` still signed and exited 0), and one-line errors for every
malformed input file (issue 17 point 8: a malformed PDF printed a traceback)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from cryptography import x509
from typer.testing import CliRunner

from mobile_jpki.cli.card import cli_errors
from mobile_jpki.cli.main import app
from mobile_jpki.clock import FixedClock
from mobile_jpki.demo.document import minimal_pdf
from mobile_jpki.demo.scenario import Demo
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.errors import SecretBlocked, WrongSecret
from mobile_jpki.verify.errors import FetchError

Demo_ = tuple[Path, dict[str, str]]


class Quiet:
    def step(self, title: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Demo_:
    data = tmp_path_factory.mktemp("sign") / "data"
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    Demo(data, base_url="http://127.0.0.1:8000", clock=clock, reporter=Quiet()).run()
    return data, json.loads((data / "export" / "secrets.json").read_text())


@pytest.fixture
def own_dir(demo_dir: Demo_, tmp_path: Path) -> Iterator[Demo_]:
    """A copy of the demo's data directory for a test that revokes or holds."""
    data = tmp_path / "data"
    shutil.copytree(demo_dir[0], data)
    yield data, demo_dir[1]


def _phone_sign_cms(d: Demo_, src: Path, out: Path, *extra: str, code: int = 0) -> str:
    data, secrets = d
    return run("phone", "sign-cms", str(src), str(out), "--data-dir", str(data),
               "--phone", "new-phone", "--password", secrets["new_phone_sign_password"],
               *extra, code=code)  # fmt: skip


def _openssl_verify(data: Path, sig: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    # -purpose any: JPKI signing certificates carry keyUsage digitalSignature+nonRepudiation
    # and no extKeyUsage; openssl's default (smimesign) accepts them too, -purpose any says
    # we do not rely on S/MIME semantics.
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", *args, "-CAfile",
         str(data / "export" / "sign-ca.pem"), "-purpose", "any"],
        capture_output=True, check=False,
    )  # fmt: skip


def test_phone_sign_cms_detached_openssl_and_verify(demo_dir: Demo_, tmp_path: Path) -> None:
    data, _ = demo_dir
    src, sig = tmp_path / "doc.txt", tmp_path / "doc.p7s"
    src.write_bytes(b"\x00binary \xff content\r\n")
    out = _phone_sign_cms(demo_dir, src, sig)
    assert "(detached)" in out
    done = _openssl_verify(data, sig, "-inform", "DER", "-in", str(sig), "-content", str(src),
                           "-out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o").read_bytes() == src.read_bytes()
    text = run("verify", "cms", str(sig), "--data", str(src), "--trust",
               str(data / "export" / "sign-ca.pem"), "--offline", "--soft-fail")  # fmt: skip
    assert "verdict: VALID" in text and "kind: phone-sign" in text
    # The same signature over other bytes is refused by both.
    src.write_bytes(b"other")
    assert _openssl_verify(data, sig, "-inform", "DER", "-in", str(sig), "-content", str(src),
                           "-out", str(tmp_path / "o")).returncode != 0  # fmt: skip


def test_phone_sign_cms_attached_pem_time_stamped(demo_dir: Demo_, tmp_path: Path) -> None:
    data, _ = demo_dir
    src, sig = tmp_path / "doc.txt", tmp_path / "doc.pem"
    src.write_text("契約書\n")
    out = _phone_sign_cms(demo_dir, src, sig, "--attached", "--pem", "--timestamp", "--with-ca")
    assert "(attached, time-stamped)" in out
    assert sig.read_bytes().startswith(b"-----BEGIN CMS-----")
    done = _openssl_verify(data, sig, "-inform", "PEM", "-in", str(sig),
                           "-out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o").read_bytes() == src.read_bytes()
    text = run("verify", "cms", str(sig), "--trust", str(data / "export" / "sign-ca.pem"),
               "--offline", "--soft-fail")  # fmt: skip
    assert "verdict: VALID" in text and "time-stamp: " in text


def test_card_sign_cms(demo_dir: Demo_, tmp_path: Path) -> None:
    data, secrets = demo_dir
    src, sig = tmp_path / "doc.bin", tmp_path / "doc.p7s"
    src.write_bytes(bytes(range(256)))
    out = run("card", "sign-cms", str(src), str(sig), "--data-dir", str(data),
              "--password", secrets["card_sign_password"])  # fmt: skip
    assert "(detached)" in out
    done = _openssl_verify(data, sig, "-inform", "DER", "-in", str(sig), "-content", str(src),
                           "-out", str(tmp_path / "o"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = run("verify", "cms", str(sig), "--data", str(src), "--trust",
               str(data / "export" / "sign-ca.pem"), "--offline", "--soft-fail")  # fmt: skip
    assert "verdict: VALID" in text and "My Number Card" in text


def _serial(data: Path, name: str) -> str:
    cert = x509.load_pem_x509_certificate((data / "export" / name).read_bytes())
    return f"{cert.serial_number:x}"


def test_revoked_phone_certificate_signs_nothing(own_dir: Demo_, tmp_path: Path) -> None:
    data, secrets = own_dir
    pw = secrets["new_phone_sign_password"]
    run("phone", "revoke", "--sign", "--data-dir", str(data), "--phone", "new-phone",
        "--sign-password", pw)  # fmt: skip
    pdf, txt = tmp_path / "in.pdf", tmp_path / "in.txt"
    pdf.write_bytes(minimal_pdf("x"))
    txt.write_text("x")
    out = run("phone", "sign-pdf", str(pdf), str(tmp_path / "o.pdf"), "--data-dir", str(data),
              "--phone", "new-phone", "--password", pw, code=6)  # fmt: skip
    serial = _serial(data, "new-phone-sign.pem")
    assert out.startswith(
        f"error: the signing certificate {serial} is revoked (cessationOfOperation) since "
    )
    assert out.endswith("Z: nothing signed\n")
    assert len(out.splitlines()) == 1
    out = _phone_sign_cms(own_dir, txt, tmp_path / "o.p7s", code=6)
    assert "is revoked (cessationOfOperation)" in out
    assert not (tmp_path / "o.pdf").exists() and not (tmp_path / "o.p7s").exists()


def test_held_certificates_sign_nothing_until_released(own_dir: Demo_, tmp_path: Path) -> None:
    data, secrets = own_dir
    txt = tmp_path / "in.txt"
    txt.write_text("x")
    phone_serial = _serial(data, "new-phone-sign.pem")
    card_serial = _serial(data, "card-sign.pem")
    run("ca", "hold", phone_serial, "--data-dir", str(data))
    run("ca", "hold", card_serial, "--data-dir", str(data))
    out = _phone_sign_cms(own_dir, txt, tmp_path / "o.p7s", code=6)
    assert "suspended (一時利用停止, certificateHold)" in out and phone_serial in out
    out = run("card", "sign-cms", str(txt), str(tmp_path / "c.p7s"), "--data-dir", str(data),
              "--password", secrets["card_sign_password"], code=6)  # fmt: skip
    assert "suspended" in out and card_serial in out
    run("ca", "release", card_serial, "--data-dir", str(data))
    run("card", "sign-cms", str(txt), str(tmp_path / "c.p7s"), "--data-dir", str(data),
        "--password", secrets["card_sign_password"])  # fmt: skip


def test_unknown_status_refuses_unless_told(
    demo_dir: Demo_, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline (no OCSP answer, no CRL): refuse with its own message and exit 1; the
    escape hatch signs and says on stderr that nothing was checked."""
    from mobile_jpki.cli import signing

    def down(self: object, url: str, *args: object) -> bytes:
        raise FetchError(url, "unreachable")

    monkeypatch.setattr(signing.ServiceFetcher, "fetch_ocsp", down)
    monkeypatch.setattr(signing.ServiceFetcher, "fetch_crl", down)
    txt = tmp_path / "in.txt"
    txt.write_text("x")
    out = _phone_sign_cms(demo_dir, txt, tmp_path / "o.p7s", code=1)
    assert out.startswith("error: cannot learn the status of certificate ")
    assert "--no-status-check" in out and len(out.splitlines()) == 1
    assert not (tmp_path / "o.p7s").exists()
    out = _phone_sign_cms(demo_dir, txt, tmp_path / "o.p7s", "--no-status-check")
    assert "was not checked (--no-status-check)" in out and (tmp_path / "o.p7s").exists()


def test_new_phone_info_says_not_set(demo_dir: Demo_) -> None:
    data, _ = demo_dir
    run("phone", "new", "--data-dir", str(data), "--phone", "blank")
    out = run("phone", "info", "--data-dir", str(data), "--phone", "blank")
    assert "signing password tries left:  not set" in out
    assert "auth PIN tries left:          not set" in out
    out = run("phone", "info", "--data-dir", str(data), "--phone", "new-phone")
    assert "signing password tries left:  5" in out or "tries left:  3" in out


# -- one vocabulary: a wrong secret is named for what it is (issue 17 "One vocabulary") -------


def test_a_wrong_secret_is_named_for_what_it_is(own_dir: Demo_, tmp_path: Path) -> None:
    """The signing key's secret is the password, the user-authentication key's the 4-digit
    PIN: each command says which one was wrong, with its own counter's tries left."""
    data, _ = own_dir
    d = str(data)
    src, sig = tmp_path / "doc.bin", tmp_path / "doc.p7s"
    src.write_bytes(b"content")
    wrong_password = "error: wrong password (4 tries left)\n"
    wrong_pin = "error: wrong PIN (2 tries left)\n"
    assert run("card", "sign-cms", str(src), str(sig), "--data-dir", d,
               "--password", "WRONG999", code=4) == wrong_password  # fmt: skip
    out = run("card", "read-cert", "sign", "--data-dir", d, "--password", "WRONG999", code=4)
    assert out == "error: wrong password (3 tries left)\n"
    assert run("card", "read-cert", "auth", "--data-dir", d,
               "--password", "9999", code=4) == wrong_pin  # fmt: skip
    assert run("phone", "sign-cms", str(src), str(sig), "--data-dir", d, "--phone",
               "new-phone", "--password", "WRONG999", code=4) == wrong_password  # fmt: skip
    assert run("phone", "read-cert", "auth", "--data-dir", d, "--phone", "new-phone",
               "--password", "9999", code=4) == wrong_pin  # fmt: skip
    assert not sig.exists()


@pytest.mark.parametrize(
    ("secret", "line"),
    [
        (Hierarchy.SIGN, "wrong password (2 tries left)"),
        (Hierarchy.AUTH, "wrong PIN (2 tries left)"),
    ],
)
def test_cli_errors_names_the_secret_its_command_checks(
    capsys: pytest.CaptureFixture[str], secret: Hierarchy, line: str
) -> None:
    """A refusal that does not name its slot (63 Cx from a command other than VERIFY) is
    named by the command, which knows the secret it checks."""
    with pytest.raises(typer.Exit) as exit_, cli_errors(secret):
        raise WrongSecret(2)
    assert exit_.value.exit_code == 4
    assert capsys.readouterr().err == f"error: {line}\n"
    with pytest.raises(typer.Exit), cli_errors(secret):
        raise SecretBlocked()
    assert capsys.readouterr().err.startswith(f"error: the {line.split()[1]} is blocked")


# -- every command that reads an input file, fed what is not that file ----------------------
_GOOD_PDF = minimal_pdf("hygiene")


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "empty").write_bytes(b"")
    (tmp / "random").write_bytes(bytes((i * 37 + 11) % 256 for i in range(700)))
    (tmp / "truncated").write_bytes(_GOOD_PDF[: len(_GOOD_PDF) // 2])
    (tmp / "dir").mkdir()
    return {
        "empty": tmp / "empty",
        "random": tmp / "random",
        "truncated": tmp / "truncated",
        "directory": tmp / "dir",
        "missing": tmp / "missing",
    }


# Each command with {F} where the bad input goes. Exit codes (docs/cli.md): phone and card
# commands 3 for a missing file, else 2 (usage); verify 2 for all (its own scheme).
_COMMANDS: dict[str, list[str]] = {
    "phone sign-pdf": ["phone", "sign-pdf", "{F}", "{O}", "--phone", "new-phone"],
    "phone sign-cms": ["phone", "sign-cms", "{F}", "{O}", "--phone", "new-phone"],
    "card sign-cms": ["card", "sign-cms", "{F}", "{O}"],
    "verify cert": ["verify", "cert", "{F}", "--trust", "{CA}", "--offline"],
    "verify cert --trust": ["verify", "cert", "{CERT}", "--trust", "{F}", "--offline"],
    "verify cms": ["verify", "cms", "{F}", "--trust", "{CA}", "--offline"],
    "verify cms --data": ["verify", "cms", "{SIG}", "--data", "{F}", "--trust", "{CA}"],
    "verify pdf": ["verify", "pdf", "{F}", "--trust", "{CA}", "--offline"],
    "verify pdf --tsa-trust": ["verify", "pdf", "{PDF}", "--trust", "{CA}", "--tsa-trust", "{F}"],
    "verify login": ["verify", "login", "{F}", "--audience", "x", "--trust", "{CA}"],
}
# Contents any bytes are: signing an empty or random file is a signature, not an error.
_ANY_BYTES = {"phone sign-cms", "card sign-cms", "verify cms --data"}


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "directory", "missing"])
@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_malformed_inputs_are_one_line_errors(
    demo_dir: Demo_, tmp_path: Path, command: str, kind: str
) -> None:
    if command in _ANY_BYTES and kind in ("empty", "random", "truncated"):
        pytest.skip("any bytes are content")
    data, _ = demo_dir
    bad = _bad_inputs(tmp_path)[kind]
    sig = tmp_path / "any.p7s"  # the --data file is read first
    sig.write_bytes(b"")
    subst = {
        "{F}": str(bad), "{O}": str(tmp_path / "out"), "{CA}": str(data / "export" / "sign-ca.pem"),
        "{CERT}": str(data / "export" / "new-phone-sign.pem"), "{SIG}": str(sig),
        "{PDF}": str(data / "export" / "signed-by-new-phone.pdf"),
    }  # fmt: skip
    args = [subst.get(a, a) for a in _COMMANDS[command]]
    if args[0] in ("phone", "card"):
        args += ["--data-dir", str(data)]
    code = 3 if kind == "missing" and args[0] != "verify" else 2
    out = run(*args, code=code, stdin="")
    assert len(out.splitlines()) == 1 and out.startswith("error: "), out
    assert str(bad) in out
    assert not (tmp_path / "out").exists()
