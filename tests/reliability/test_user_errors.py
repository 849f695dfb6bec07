"""Findings 10 and 11: silent wrong input becomes an error; user mistakes are one clear line
and a non-zero exit, never a traceback; the state after each is unchanged."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

import registry
from tests.reliability.conftest import one_line_error


@pytest.fixture
def catalog(site):
    path = site.root / "cat.parquet"
    pd.DataFrame({"RA": [1.0, 2.0], "DEC": [3.0, 4.0], "z": [0.1, 0.2]}).to_parquet(path)
    return path


def no_products(site) -> bool:
    return registry.open(site.url).list_products() == []


@pytest.mark.parametrize(
    ("args", "expected", "code"),
    [
        (["products", "list", "--bogus"], "No such option: --bogus", 2),
        (["products", "list", "--created-after", "not-a-date"], "created-after", 2),
        (["products", "list", "--sort", "colour"], "cannot sort by 'colour'", 1),
        (["products", "upload", "x", "cat.parquet", "--column", "z"], "expected ROLE=COLUMN", 2),
        (["products", "show", "99"], "no product '99'", 1),
        (["products", "get", "nope@v3"], "no product 'nope@v3'", 1),
        (["run", "no_such_pipeline"], "unknown pipeline 'no_such_pipeline'", 1),
        (["surveys", "explain", "NoSuchSurvey"], "NoSuchSurvey", 1),
    ],
)
def test_usage_mistakes_are_one_line(site, catalog, args, expected, code):
    proc = site.cli(*args, "--registry", site.url) if args[0] == "products" else site.cli(*args)
    line = one_line_error(proc)
    assert expected in line and proc.returncode == code, (line, proc.returncode)


def test_upload_without_z_is_not_completed_silently(site, catalog):
    proc = site.cli("products", "upload", "cat", catalog, "-C", "ra=RA", "-C", "dec=DEC",
                    "--registry", site.url)  # fmt: skip
    line = one_line_error(proc)
    assert "z=z" in line and "--yes" in line and no_products(site)
    ok = site.cli("products", "upload", "cat", catalog, "-C", "ra=RA", "-C", "dec=DEC", "--yes",
                  "--registry", site.url)  # fmt: skip
    assert ok.returncode == 0 and "z=z" in ok.stdout, ok.stderr


def test_prompts_without_a_terminal_fail_clearly(site, catalog):
    assert (
        site.cli("products", "upload", "cat", catalog, "--yes", "--registry", site.url).returncode
        == 0
    )
    proc = site.cli("products", "delete", "1", "--registry", site.url, stdin="")
    assert "no terminal" in one_line_error(proc) and "--yes" in proc.stderr
    assert len(registry.open(site.url).list_products()) == 1


def test_bad_site_settings_and_registry_files(site, catalog, tmp_path):
    env = site.env(PZFORGE_UPLOAD_LIMIT_MB="lots")
    proc = site.cli("products", "upload", "cat", catalog, "--yes", "--registry", site.url, env=env)
    assert "PZFORGE_UPLOAD_LIMIT_MB='lots'" in one_line_error(proc) and no_products(site)
    not_db = tmp_path / "notes.sqlite"
    not_db.write_text("this is not a database\n" * 100)
    proc = site.cli("products", "list", "--registry", f"sqlite:///{not_db}")
    assert "cannot open the registry" in one_line_error(proc)
    assert not_db.read_text().startswith("this is not a database")
    proc = site.cli("products", "list", "--registry", "nonsense://x")
    assert "nonsense" in one_line_error(proc)


def test_download_into_a_missing_folder(site, catalog):
    assert (
        site.cli("products", "upload", "cat", catalog, "--yes", "--registry", site.url).returncode
        == 0
    )
    proc = site.cli(
        "products", "download", "1", "-o", site.root / "nope" / "x.zip", "--registry", site.url
    )
    assert "does not exist" in one_line_error(proc)
    assert not (site.root / "nope").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("hdu", "message"), [(5, "does not exist"), (0, "primary HDU")])
def test_a_fits_hdu_that_is_not_a_table_stops_the_run(site, hdu, message):
    config = yaml.safe_load(site.config.read_text())
    fits = next(c for c in config["catalogs"] if c["path"].endswith(".fits"))
    fits["fits_hdu"] = hdu
    site.config.write_text(yaml.safe_dump(config))
    proc = site.run()
    line = one_line_error(proc)
    assert message in line and "fits_hdu" in line and fits["path"] in line
    assert no_products(site)
    assert not site.combined.exists()
    site.assert_consistent()
