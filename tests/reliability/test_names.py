"""Finding 4: names never become paths; symbolic links are not uploaded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import registry
from registry import REFERENCE_REDSHIFT_CATALOG, ColumnSpec
from tests.reliability.conftest import one_line_error

COLS = [ColumnSpec("ra", "ra"), ColumnSpec("dec", "dec"), ColumnSpec("z", "z")]
BAD_NAMES = [
    "../../etc/evil",
    "a/b",
    "/etc/passwd",
    "back\\slash",
    "..",
    "tab\there",
    "new\nline",
    "nul\x00byte",
    "bell\x07",
    "rtl\u202eoverride",
    "",
    "   ",
    "12",
    "name@v2",
    "-rf",
    "~root",
    "x" * 201,
]


@pytest.fixture
def reg_and_file(tmp_path):
    path = tmp_path / "cat.parquet"
    pd.DataFrame({"ra": [1.0], "dec": [2.0], "z": [0.3]}).to_parquet(path)
    storage = tmp_path / "storage"
    reg = registry.open(f"sqlite:///{tmp_path / 'r.sqlite'}", user="alice", storage=storage)
    return reg, path, storage


def stored_files(storage: Path) -> list[Path]:
    return [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_and_leave_nothing(reg_and_file, name):
    reg, path, storage = reg_and_file
    with pytest.raises(registry.ValidationError):
        reg.register_product(name, REFERENCE_REDSHIFT_CATALOG, path, columns=COLS)
    with pytest.raises(registry.ValidationError):
        reg.upload(name, REFERENCE_REDSHIFT_CATALOG, path, columns=COLS)
    with pytest.raises(registry.ValidationError):
        reg.add_release(name)
    assert reg.list_products() == [] and reg.releases() == []
    assert stored_files(storage) == []


def test_odd_but_harmless_names_work_and_paths_come_from_ids(reg_and_file):
    reg, path, storage = reg_and_file
    for name in ("DESI DR1 [draft]", "café z<3 'q'", "a.b-c_d", "x" * 200):
        p = reg.register_product(name, REFERENCE_REDSHIFT_CATALOG, path, columns=COLS)
        main = Path(reg.get_product(p.id).files[0].path)
        assert main == storage.resolve() / "products" / f"{p.id:08d}" / "0.parquet"
        assert reg.get_product(p.internal_name).name == name
        assert "/" not in p.internal_name and " " not in p.internal_name


def test_renaming_checks_the_name_too(reg_and_file):
    reg, path, _ = reg_and_file
    p = reg.register_product("fine", REFERENCE_REDSHIFT_CATALOG, path, columns=COLS)
    with pytest.raises(registry.ValidationError):
        reg.update(p.id, name="../x")
    assert reg.get_product(p.id).name == "fine"


def test_symlinked_upload_is_refused(reg_and_file, tmp_path):
    reg, _path, storage = reg_and_file
    link = tmp_path / "innocent.csv"
    link.symlink_to("/etc/passwd")
    with pytest.raises(registry.ValidationError, match="symbolic link"):
        reg.upload("linked", REFERENCE_REDSHIFT_CATALOG, link, columns=COLS)
    assert reg.list_products() == [] and stored_files(storage) == []


def test_cli_bad_name_is_one_line(site, tmp_path):
    path = tmp_path / "cat.parquet"
    pd.DataFrame({"ra": [1.0], "dec": [2.0], "z": [0.3]}).to_parquet(path)
    proc = site.cli("products", "upload", "../../x", path, "--yes", "--registry", site.url)
    assert "path separator" in one_line_error(proc)
    assert registry.open(site.url).list_products() == []
