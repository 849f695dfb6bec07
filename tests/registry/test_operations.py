"""Upload (copy + size limit), download zip, DataFrame access, update, delete, official."""

from __future__ import annotations

import json
import zipfile

import pytest

from registry import ColumnSpec, PermissionDenied, Registry, ValidationError

RRC = "Reference Redshift Catalog"
COLS = [ColumnSpec("RA", "ra"), ColumnSpec("DEC", "dec"), ColumnSpec("redshift", "z")]


@pytest.fixture
def storage(tmp_path):
    return tmp_path / "storage"


def test_upload_copies_files_and_delete_removes_only_copies(registry_url, table_files, storage):
    _, paths = table_files
    reg = Registry.from_url(registry_url, user="alice", storage=storage)
    p = reg.upload("my upload", RRC, paths["csv"], aux_files=[paths["fits"]], columns=COLS)
    detail = reg.get_product(p.id)
    assert all(f.copied for f in detail.files)
    assert [f.name for f in detail.files] == ["cat.csv", "cat.fits"]
    folder = storage / "products" / f"{p.id:08d}"  # named by id, never by the product's name
    assert sorted(x.name for x in folder.iterdir()) == ["0.csv", "1.fits"]
    assert (folder / "0.csv").stat().st_ino != paths["csv"].stat().st_ino  # a copy
    assert not any((storage / ".staging").iterdir())
    ref = reg.register_product("by reference", RRC, paths["parquet"], columns=COLS, store=False)
    reg.delete(p.id)
    reg.delete(ref.id)
    assert not folder.exists()
    assert paths["parquet"].exists()  # referenced files are never deleted
    assert reg.list_products() == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "does not exist"),
        ("too_big", "over the limit"),
        ("no_z", "missing: z"),
        ("bad_column", "not in cat.csv"),
        ("not_numeric", "'name' .* is not numeric"),
        ("wrong_format", "must be CSV, FITS, HDF5 or Parquet"),
    ],
)
def test_bad_uploads_leave_nothing(registry_url, table_files, storage, case, message):
    _, paths = table_files
    reg = Registry.from_url(registry_url, user="alice", storage=storage)
    kwargs = {"columns": COLS}
    main = paths["csv"]
    if case == "missing":
        main = paths["csv"].with_name("nope.csv")
    elif case == "too_big":
        kwargs["limit_bytes"] = 100
    elif case == "no_z":
        kwargs["columns"] = COLS[:2]
    elif case == "bad_column":
        kwargs["columns"] = [*COLS[:2], ColumnSpec("zz", "z")]
    elif case == "not_numeric":
        kwargs["columns"] = [*COLS[:2], ColumnSpec("name", "z")]
    elif case == "wrong_format":
        main = paths["csv"].with_name("notes.txt")
        main.write_text("x")
    with pytest.raises(ValidationError, match=message):
        reg.upload("bad", RRC, main, **kwargs)
    assert reg.list_products() == []
    assert not (storage / "products").exists() or not any((storage / "products").iterdir())
    assert not (storage / ".staging").exists() or not any((storage / ".staging").iterdir())


def test_download_zip_and_dataframe(registry_url, table_files, tmp_path, storage):
    df, paths = table_files
    reg = Registry.from_url(registry_url, user="tests", storage=storage)
    p = reg.register_product("hats cat", RRC, paths["hats"], aux_files=[paths["csv"]], columns=COLS)
    out = reg.download(p.id, tmp_path)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("metadata.json"))
    assert "cat.csv" in names and any(n.startswith("cat_hats/dataset/") for n in names)
    assert meta["internal_name"] == p.internal_name and meta["files"][0]["format"] == "hats"
    got = reg.get_dataframe(p.internal_name).sort_values("objid").reset_index(drop=True)
    assert got["objid"].tolist() == df["objid"].tolist()
    for fmt in ("csv", "parquet", "fits", "hdf5"):
        q = reg.register_product(f"t {fmt}", RRC, paths[fmt], columns=COLS)
        assert len(reg.get_dataframe(q.id)) == len(df)


def test_permissions(registry_url, table_files, storage):
    _, paths = table_files
    kw = {"admins": ["root_admin"], "storage": storage}
    alice = Registry.from_url(registry_url, user="alice", **kw)
    bob = Registry.from_url(registry_url, user="bob", **kw)
    admin = Registry.from_url(registry_url, user="root_admin", **kw)
    p = alice.register_product("alice's", RRC, paths["csv"], columns=COLS)
    with pytest.raises(PermissionDenied, match="only its owner"):
        bob.update(p.id, description="mine now")
    with pytest.raises(PermissionDenied):
        bob.delete(p.id)
    with pytest.raises(PermissionDenied, match="only admins"):
        alice.set_official(p.id)
    assert alice.update(p.id, description="better").description == "better"
    assert admin.set_official(p.id).official
    assert [x.id for x in bob.list_products(official=True)] == [p.id]
    admin.delete(p.id)
