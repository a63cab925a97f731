from __future__ import annotations

import sys
from pathlib import Path

# The relying-party kit's in-memory JPKI (tests/verify/rp_pki.py) serves both halves.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "verify"))

import pytest
from rp_pki import TestPki


@pytest.fixture(scope="session")
def tpki() -> TestPki:
    return TestPki()
