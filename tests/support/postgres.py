"""A fresh database on the project's PostgreSQL server (scripts/system/postgres.sh) per test.

Without a server the PostgreSQL cases skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]


def postgres_base_url() -> str | None:
    url = os.environ.get("PZFORGE_TEST_PG_URL")
    if not url:
        try:
            url = subprocess.run(
                [str(ROOT / "scripts/system/postgres.sh"), "url"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    try:
        with create_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return None
    return url


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database (dropped afterwards)."""
    base = postgres_base_url()
    if base is None:
        reason = "no PostgreSQL server reachable (run scripts/system/postgres.sh start)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"pzt_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
