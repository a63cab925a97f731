"""SoftHSM2 token for the PKCS#11 tests: a temporary config and token directory, one token.

SoftHSM reads SOFTHSM2_CONF once, at C_Initialize, and mobile_jpki.keys.pkcs11 loads the module
once per process; so the token is made once per session, before the module is first loaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile_jpki.keys.pkcs11 import DEFAULT_MODULE, Pkcs11Token
from mobile_jpki.keys.source import SecretSource

TOKEN_LABEL = "mobile-jpki-test"
USER_PIN = "246810"
SO_PIN = "13579135"
PIN_ENV = "MOBILE_JPKI_TEST_HSM_PIN"


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pkcs11Token]:
    if not Path(DEFAULT_MODULE).exists() or shutil.which("softhsm2-util") is None:
        pytest.skip(
            f"SoftHSM2 not installed ({DEFAULT_MODULE}, softhsm2-util): apt install softhsm2"
        )
    base = tmp_path_factory.mktemp("softhsm")
    tokens = base / "tokens"
    tokens.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        mp.setenv(PIN_ENV, USER_PIN)
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--pin",
                USER_PIN,
                "--so-pin",
                SO_PIN,
            ],
            check=True,
            capture_output=True,
            env=os.environ.copy(),
        )
        yield Pkcs11Token(TOKEN_LABEL, SecretSource("env", PIN_ENV))
