"""Alembic migrations, shipped inside the package and applied by ``Database.migrate()``."""

from __future__ import annotations

# The latest revision in versions/ (a test checks it against Alembic's own head): lets a process
# see that a database is current with one query, without importing Alembic (0.3-0.5 s).
HEAD_REVISION = "0010"
