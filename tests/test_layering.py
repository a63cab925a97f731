"""Import direction and declared APIs (docs/architecture.md "Rules that keep it livable").

Reads the source with :mod:`ast` (nothing is imported to find the imports), so a forbidden
import fails here even inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "mobile_jpki"

# Packages and top-level modules that do I/O: files, sockets, databases, HTTP, card readers.
IO = {
    "api", "cli", "demo", "files", "keys", "phone", "push", "reader", "runtime", "service",
    "settings", "signing", "store", "verify", "web",
}  # fmt: skip
PURE = {"pki", "applet", "protocol"}
# Libraries that only I/O code has any business importing.
IO_LIBRARIES = {
    "alembic", "fastapi", "httpx", "pkcs11", "psycopg", "pyhanko", "rich", "smartcard",
    "socket", "sqlalchemy", "sqlite3", "starlette", "subprocess", "typer", "uvicorn",
}  # fmt: skip

FORBIDDEN: dict[str, set[str]] = {
    # The phone reaches the service over HTTP only, its card and element in APDUs only.
    "phone": {"service", "applet", "store", "api"},
    # The service trusts what crosses the wire (protocol), never the emulator or the app.
    "service": {"applet", "phone", "web", "cli", "api", "demo", "runtime"},
    # Pure layers: no I/O package at all.
    **{pure: IO for pure in PURE},
    "protocol": IO | {"applet"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module or ``module.name``) for every import in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _layer(dotted: str) -> str | None:
    """``mobile_jpki.service.portal.cms`` → ``service``; None outside the package."""
    parts = dotted.split(".")
    if parts[0] != "mobile_jpki" or len(parts) < 2:
        return None
    return parts[1]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_source_is_found() -> None:
    assert len(SOURCES) > 100
    assert {_layer(_module_name(p)) for p in SOURCES} >= {"protocol", "service", "phone"}


def test_no_forbidden_imports() -> None:
    found: list[str] = []
    for path in SOURCES:
        layer = _layer(_module_name(path))
        if layer is None:
            continue
        forbidden = FORBIDDEN.get(layer, set())
        for line, target in _imports(path):
            other = _layer(target)
            if other is not None and other != layer and other in forbidden:
                found.append(f"{path.relative_to(SRC)}:{line}: {layer} -> {target}")
            if layer in PURE and target.split(".")[0] in IO_LIBRARIES:
                found.append(f"{path.relative_to(SRC)}:{line}: {layer} -> {target} (I/O)")
    assert not found, "forbidden imports:\n" + "\n".join(sorted(set(found)))


def test_the_one_length_encoder_imports_nothing_of_ours() -> None:
    """``pki`` writes its DER with protocol.tlv while protocol.documents reads pki.model: the
    module graph stays acyclic because the codec itself depends on nothing."""
    targets = {t for _, t in _imports(PACKAGE / "protocol" / "tlv.py")}
    assert not {t for t in targets if t.startswith("mobile_jpki")}


def test_public_class_names_are_defined_once() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in SOURCES:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where[node.name].append(str(path.relative_to(SRC)))
    twice = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not twice


# --- declared public APIs ----------------------------------------------------------------------
KITS = ["verify", "signing", "reader"]


def _lazy_table(init: Path) -> dict[str, set[str]]:
    """The ``lazy_exports(__name__, {...})`` table and the ``TYPE_CHECKING`` imports."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    table: dict[str, set[str]] = {"runtime": set(), "typing": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports":
            mapping = node.args[1]
            assert isinstance(mapping, ast.Dict)
            for names in mapping.values:
                assert isinstance(names, ast.Tuple)
                table["runtime"] |= {ast.literal_eval(n) for n in names.elts}
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                table["typing"] |= {a.name for a in stmt.names}
    return table


@pytest.mark.parametrize("kit", KITS)
def test_kit_declares_its_api(kit: str) -> None:
    package = importlib.import_module(f"mobile_jpki.{kit}")
    declared = set(package.__all__)
    table = _lazy_table(PACKAGE / kit / "__init__.py")
    assert table["runtime"] == declared
    assert table["typing"] == declared
    for name in sorted(declared):
        assert getattr(package, name) is not None, name
    assert declared <= set(dir(package))


@pytest.mark.parametrize("kit", KITS)
def test_outsiders_import_only_the_declared_api(kit: str) -> None:
    declared = set(importlib.import_module(f"mobile_jpki.{kit}").__all__)
    undeclared: list[str] = []
    for path in SOURCES:
        module = _module_name(path)
        if _layer(module) == kit:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module != f"mobile_jpki.{kit}" and not node.module.startswith(
                f"mobile_jpki.{kit}."
            ):
                continue
            for alias in node.names:
                submodule = (PACKAGE / kit / f"{alias.name}.py").exists()
                if alias.name not in declared and not submodule:
                    undeclared.append(f"{module}:{node.lineno}: {node.module}.{alias.name}")
    assert not undeclared, f"not in mobile_jpki.{kit}.__all__:\n" + "\n".join(undeclared)


# --- the portal's SQL lives in its repository ---------------------------------------------------
PORTAL = PACKAGE / "service" / "portal"
REPOSITORY = PORTAL / "repo"
# What a use case may import of SQLAlchemy: the Session it passes on, and the exceptions it
# maps to refusals. Statements (select, update, insert, delete, text, dialect inserts) and
# the direct runner are the repository's.
SQL_IMPORTS_ALLOWED = {"sqlalchemy.orm", "sqlalchemy.orm.Session", "sqlalchemy.exc"}
# Methods that run SQL whatever they are called on, and the Session's row methods (checked
# on the names a session or connection goes by: ``.get``/``.add`` of a dict or set is fine).
RUNS_SQL = {"execute", "scalars", "scalar", "scalar_one", "query"}
SESSION_ROWS = {"get", "add", "add_all", "delete", "merge", "refresh"}
SESSION_NAMES = {"s", "session", "conn", "connection"}
STATEMENT_BUILDERS = {"select", "update", "insert", "delete", "text", "bindparam"}


def _sql_in_use_case(path: Path) -> Iterator[str]:
    where = path.relative_to(SRC)
    for line, target in _imports(path):
        if target == "sqlalchemy" or target.startswith("sqlalchemy."):
            if not any(target == a or target.startswith(f"{a}.") for a in SQL_IMPORTS_ALLOWED):
                yield f"{where}:{line}: imports {target}"
        if target.startswith("mobile_jpki.store.direct") or target == "mobile_jpki.store.direct":
            yield f"{where}:{line}: imports {target}"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in STATEMENT_BUILDERS:
            yield f"{where}:{node.lineno}: builds a statement: {func.id}(…)"
        if isinstance(func, ast.Attribute):
            receiver = func.value
            if func.attr in RUNS_SQL:
                yield f"{where}:{node.lineno}: runs SQL: .{func.attr}(…)"
            if (
                func.attr in SESSION_ROWS
                and isinstance(receiver, ast.Name)
                and receiver.id in SESSION_NAMES
            ):
                yield f"{where}:{node.lineno}: session row access: {receiver.id}.{func.attr}(…)"


def test_portal_use_cases_contain_no_sql() -> None:
    """Issue 15 §3, "repositories own all SQL": every statement of the portal is a named
    function of ``service/portal/repo``; the use-case modules build and run none."""
    use_cases = [p for p in PORTAL.rglob("*.py") if REPOSITORY not in p.parents]
    assert {p.name for p in use_cases} >= {"jobs.py", "applications.py", "registry.py"}
    found = [f for path in sorted(use_cases) for f in _sql_in_use_case(path)]
    assert not found, "SQL outside the portal's repository:\n" + "\n".join(found)


def test_the_portal_repository_is_where_the_sql_is() -> None:
    """The check above would pass on an empty package: the repository must hold the SQL
    (so the rule keeps meaning something if the repository moves)."""
    found = [f for path in sorted(REPOSITORY.rglob("*.py")) for f in _sql_in_use_case(path)]
    assert any("builds a statement: select" in f for f in found)
    assert any("imports mobile_jpki.store.direct" in f for f in found)


# --- the デジタル認証アプリ twin's statements live in its repository ------------------------------
AUTHAPP = PACKAGE / "service" / "authapp"


def test_the_twins_statements_are_in_its_repository() -> None:
    """``service/authapp/repo.py`` builds and runs every statement of the twin; its use cases
    keep the ORM's unit of work (``session.get``/``add`` of one row by key), which the portal's
    stricter rule also moves out."""
    use_cases = [p for p in AUTHAPP.glob("*.py") if p.name != "repo.py"]
    assert {p.name for p in use_cases} >= {"authorization.py", "tokens.py", "clients.py"}
    found = [
        f
        for path in sorted(use_cases)
        for f in _sql_in_use_case(path)
        if "session row access" not in f
    ]
    assert not found, "SQL outside the twin's repository:\n" + "\n".join(found)
    in_repo = list(_sql_in_use_case(AUTHAPP / "repo.py"))
    assert any("builds a statement: update" in f for f in in_repo)
