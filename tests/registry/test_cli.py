"""`pzforge products` and `pzforge db` through the real command (Typer's CliRunner)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pzforge.cli import app
from registry import Registry
from registry.suggest import suggest_columns

runner = CliRunner()


def invoke(url, *args, input=None):
    return runner.invoke(app, [*args, "--registry", url], input=input, catch_exceptions=False)


def test_help_texts():
    for cmd in (
        ["products", "--help"],
        ["products", "list", "--help"],
        ["products", "upload", "--help"],
        ["db", "--help"],
    ):
        result = runner.invoke(app, cmd)
        assert result.exit_code == 0 and "Usage" in result.output
    assert "--format" in runner.invoke(app, ["products", "list", "--help"]).output


def test_suggestions_from_names():
    got = {
        c.role: c.name
        for c in suggest_columns(["RAJ2000", "DEJ2000", "redshift", "zerr", "quality", "objid"])
    }
    assert got == {
        "ra": "RAJ2000",
        "dec": "DEJ2000",
        "z": "redshift",
        "z_err": "zerr",
        "z_flag": "quality",
        "id": "objid",
    }


def test_upload_list_show_download_delete(tmp_path, table_files, monkeypatch):
    _, paths = table_files
    monkeypatch.setenv("PZFORGE_STORAGE", str(tmp_path / "st"))
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    res = invoke(url, "products", "upload", "my cat", str(paths["parquet"]), "--yes")
    assert res.exit_code == 0, res.output
    assert "ra=RA" in res.output and "uploaded 1_my_cat" in res.output
    res = invoke(url, "products", "list", "--format", "json")
    rows = json.loads(res.output)
    assert rows[0]["internal_name"] == "1_my_cat"
    res = invoke(url, "products", "list", "--format", "csv")
    assert res.output.splitlines()[0].startswith("id,internal_name,product_type")
    res = invoke(url, "products", "show", "1_my_cat", "--format", "json")
    assert json.loads(res.output)["columns"][0]["ucd"]
    res = invoke(url, "products", "download", "1", "--output", str(tmp_path))
    assert (tmp_path / "1_my_cat.zip").exists()
    res = invoke(url, "products", "get", "1", "--head", "2")
    assert "[200 rows" in res.output
    res = invoke(url, "products", "delete", "1", "--yes")
    assert res.exit_code == 0
    assert Registry.from_url(url, user="tests").list_products() == []


def test_db_status_and_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    from registry.store import head_revision

    head = head_revision()
    assert f"revision {head}" in invoke(url, "db", "upgrade").output
    assert f"schema revision: {head}" in invoke(url, "db", "status").output
