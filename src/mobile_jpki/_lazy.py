"""A package's public names, imported from their modules on first use (PEP 562).

``verify``, ``signing`` and ``reader`` declare their API in ``__all__`` without importing every
module when one is used: the portal's CMS verifier must not pull in pyhanko (``verify.pdf``) nor
the signing side, and a host that only talks to a card needs no PC/SC or vpcd code. The names
are also imported under ``TYPE_CHECKING`` in each ``__init__`` for type checkers;
tests/test_layering.py checks that the three lists agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence


def lazy_exports(
    package: str, modules: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``modules[module]`` is taken
    from ``package.module`` the first time it is asked for, then kept in the package."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | where.keys())

    return __getattr__, __dir__
