"""Findings 1, 3, 5, 6: registered versions never change, reads verify, delete removes only what
the registry owns, ids are never reused."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import registry
from registry import REFERENCE_REDSHIFT_CATALOG, ColumnSpec
from tests.reliability.conftest import one_line_error

pytestmark = pytest.mark.slow


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_rerun_with_new_config_keeps_version_1_byte_for_byte(site):
    first = site.run()
    assert first.returncode == 0, first.stdout + first.stderr
    v1_bytes = site.combined.read_bytes()
    v1 = site.registry().get_product("demo_combined@v1")
    second = site.run("crossmatch.radius_arcsec=2.0")
    assert second.returncode == 0, second.stdout + second.stderr
    assert site.combined.read_bytes() != v1_bytes  # the results folder holds the new run
    reg = site.registry()
    v2 = reg.get_product("demo_combined")  # a name means its newest version
    assert (v2.version, v2.supersedes_id) == (2, v1.id)
    # version 1 is as it was: its files, get, download and check
    flat = next(f for f in reg.get_product(v1.id).files if f.name == "demo_combined.parquet")
    assert Path(flat.path).read_bytes() == v1_bytes
    got = reg.get_dataframe(v1.id)
    assert len(got) == pq_rows(v1_bytes, site.root)
    for ref in (v1.id, v2.id):
        check = site.cli("provenance", "check", ref, "--registry", site.url)
        assert check.returncode == 0 and "CHANGED" not in check.stdout, check.stdout
    out = site.cli("products", "download", "1", "-o", site.root, "--registry", site.url)
    assert out.returncode == 0, out.stderr
    with zipfile.ZipFile(site.root / f"{v1.internal_name}.zip") as zf:
        assert zf.read("demo_combined.parquet") == v1_bytes
    # deleting version 2 leaves version 1 readable; an unchanged rerun registers nothing new
    reg.delete(v2.id)
    assert Path(flat.path).read_bytes() == v1_bytes
    site.assert_consistent()


def pq_rows(data: bytes, tmp: Path) -> int:
    path = tmp / "v1-copy.parquet"
    path.write_bytes(data)
    return len(pd.read_parquet(path))


@pytest.fixture
def stored(tmp_path, table_file, registry_url):  # SQLite and PostgreSQL
    reg = registry.open(registry_url, user="alice", storage=tmp_path / "storage")
    cols = [ColumnSpec("ra", "ra"), ColumnSpec("dec", "dec"), ColumnSpec("z", "z")]
    p = reg.register_product("cat", REFERENCE_REDSHIFT_CATALOG, table_file, columns=cols)
    return reg, p


@pytest.fixture
def table_file(tmp_path) -> Path:
    path = tmp_path / "cat.parquet"
    pd.DataFrame({"ra": [1.0, 2.0], "dec": [3.0, 4.0], "z": [0.1, 0.2]}).to_parquet(path)
    return path


def tamper(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def test_get_and_download_refuse_changed_data(stored, tmp_path):
    reg, p = stored
    main = Path(reg.get_product(p.id).files[0].path)
    original = main.read_bytes()
    tamper(main, original.replace(b"ra", b"RA"))  # same size, new mtime: cheap check -> sha256
    with pytest.raises(registry.IntegrityProblem, match="changed since registration"):
        reg.get_dataframe(p.id)
    with pytest.raises(registry.IntegrityProblem, match="not served"):
        reg.download(p.id, tmp_path)
    assert not list(tmp_path.glob("*.zip")) and not list(tmp_path.glob(".*.part"))
    # same content again but another mtime: the full check says it is fine
    tamper(main, original)
    assert len(reg.get_dataframe(p.id, verify_full=True)) == 2
    main.unlink()
    with pytest.raises(registry.IntegrityProblem, match="is missing"):
        reg.get_dataframe(p.id)


def test_cli_get_refuses_changed_data_in_one_line(stored, site):
    reg, p = stored
    main = Path(reg.get_product(p.id).files[0].path)
    tamper(main, main.read_bytes() + b"x")
    url = reg.engine.url.render_as_string(hide_password=False)
    for args in (("products", "get", "1"), ("products", "download", "1", "-o", site.root)):
        line = one_line_error(site.cli(*args, "--registry", url))
        assert "changed since registration" in line and main.name in line


def test_delete_removes_only_files_the_registry_owns(stored, tmp_path):
    reg, p = stored
    outside = tmp_path / "precious.txt"
    outside.write_text("not the registry's")
    from sqlalchemy import update

    from registry.models import ProductFile

    with reg.session() as s:  # a row that claims to be a stored copy of a file outside
        s.execute(
            update(ProductFile)
            .where(ProductFile.product_id == p.id)
            .values(path=str(outside), copied=True)
        )
    reg.delete(p.id)
    assert outside.read_text() == "not the registry's"
    assert reg.list_products() == []


def test_ids_are_never_reused(stored, table_file):
    reg, p = stored
    internal = p.internal_name
    reg.delete(p.id)
    cols = [ColumnSpec("ra", "ra"), ColumnSpec("dec", "dec"), ColumnSpec("z", "z")]
    again = reg.register_product("other", REFERENCE_REDSHIFT_CATALOG, table_file, columns=cols)
    assert again.id == p.id + 1
    with pytest.raises(registry.NotFound):
        reg.get_product(internal)
    with pytest.raises(registry.NotFound):
        reg.get_product(p.id)
