"""Finding 9: valid input never crashes: a run whose catalogs have no duplicate at all."""

from __future__ import annotations

import json

import pytest
import yaml

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case", ["one catalog", "disjoint catalogs"])
def test_runs_without_any_duplicate_finish_and_register(site, case):
    config = yaml.safe_load(site.config.read_text())
    config["catalogs"] = config["catalogs"][:1] if case == "one catalog" else config["catalogs"][:2]
    if case == "disjoint catalogs":
        config["crossmatch"] = {"radius_arcsec": 0.001}  # nothing that close: no pair
        config["partition"]["margin_threshold_arcsec"] = 1.0
    site.config.write_text(yaml.safe_dump(config))
    proc = site.run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((site.combined.parents[1] / "summary.json").read_text())
    assert summary["duplicates"]["pairs"] == 0 and summary["rows_out"] > 0
    assert len(site.registry().list_products()) == 1
    site.assert_consistent()
