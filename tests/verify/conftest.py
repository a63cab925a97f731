from __future__ import annotations

import pytest
from rp_pki import TestPki


@pytest.fixture(scope="session")
def tpki() -> TestPki:
    return TestPki()
