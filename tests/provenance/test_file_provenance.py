"""Provenance inside every product file: it survives a copy out of the registry, and
`pzforge provenance show FILE` reads it back from a bare file."""

from __future__ import annotations

import json
import shutil

import pytest

from pzforge.combine import sample_data
from pzforge.io.stamps import read_stamp
from tests.reliability.conftest import Site

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_site(tmp_path_factory):
    catalogs = tmp_path_factory.mktemp("catalogs")
    sample_data.generate(catalogs, n_objects=800)
    site = Site(tmp_path_factory.mktemp("site"), catalogs)
    import yaml

    config = yaml.safe_load(site.config.read_text())
    config["output"] = {"formats": ["parquet", "csv", "fits", "hdf5"]}
    site.config.write_text(yaml.safe_dump(config))
    proc = site.run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return site


def test_every_format_but_csv_carries_the_stamp(run_site):
    folder = run_site.combined.parent
    stamps = {p.name: read_stamp(p) for p in folder.iterdir()}
    assert stamps["demo_combined.csv"] is None  # plain CSV has nowhere to keep it
    expected = stamps["demo_combined.parquet"]
    assert expected["pipeline"] == "combine_redshift" and expected["product"] == "demo_combined"
    assert {i["name"] for i in expected["inputs"]} == {"2dfgrs", "6dfgs", "vvds"}
    for name in ("demo_combined.fits", "demo_combined.hdf5", "demo_combined_hats"):
        assert stamps[name] == expected, name
    props = (folder / "demo_combined_hats" / "hats.properties").read_text()
    assert "hats_creator=pzforge combine_redshift" in props and "obs_title=demo_combined" in props


def test_provenance_show_reads_a_copied_file(run_site, tmp_path):
    copy = tmp_path / "elsewhere" / "my_catalog.parquet"
    copy.parent.mkdir()
    shutil.copy(run_site.combined, copy)
    proc = run_site.cli("provenance", "show", copy, "--registry", run_site.url)
    assert proc.returncode == 0, proc.stderr
    (run,) = [r["id"] for r in run_site.registry().list_runs()]
    assert "pipeline combine_redshift" in proc.stdout and "input: 2dfgrs (csv)" in proc.stdout
    assert f"run {run}" in proc.stdout and "registered as 1_demo_combined" in proc.stdout
    as_json = run_site.cli("provenance", "show", copy, "-f", "json", "--registry", run_site.url)
    data = json.loads(as_json.stdout)
    assert data["stamp"]["product"] == "demo_combined" and data["products"][0]["id"] == 1
    # with no registry at hand the file still tells what it is
    alone = run_site.cli("provenance", "show", copy, "--registry", f"sqlite:///{tmp_path / 'x.db'}")
    assert alone.returncode == 0 and "pipeline combine_redshift" in alone.stdout
    assert "not known to the registry here" in alone.stdout and not (tmp_path / "x.db").exists()
