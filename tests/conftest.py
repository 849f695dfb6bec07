"""Shared fixtures: where the real samples live, tiny generated catalogs, a HATS builder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.registry.conftest import registry_url, table_files  # noqa: F401 - shared fixtures

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("PZFORGE_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for path in candidates:
        if (path / "specz").is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real samples not found: ../shared/data is absent (set PZFORGE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def sample_catalogs(tmp_path_factory) -> dict[str, Path]:
    from pzforge.combine import sample_data

    return sample_data.generate(tmp_path_factory.mktemp("samples"))


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path, monkeypatch):
    """Registries on PostgreSQL keep their file store under the data home: a temporary one."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
