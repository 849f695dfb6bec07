"""Small catalogs several to a job: which catalogs share a job, and that each keeps its own
outputs, log and error."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from pzforge.combine.hooks import ingest_batches
from pzforge.combine.pipeline import ingest_catalog, ingest_catalogs
from pzforge.combine.settings import CatalogSpec, HomogenizationSettings, ValidationSettings
from pzforge.errors import InputDataError
from pzforge.paths import SHIPPED_SURVEYS_FILE
from pzforge.pipelines import validate as validate_config


def catalogs(tmp_path, sizes: dict[str, int]) -> dict:
    entries = []
    for name, n in sizes.items():
        path = tmp_path / f"{name}.csv"
        pd.DataFrame(
            {"RA": [10.0 + i * 1e-3 for i in range(n)], "DEC": 0.0, "Z": 0.5, "Q": 4}
        ).to_csv(path, index=False)
        entries.append(
            {
                "name": name,
                "path": str(path),
                "columns": {"ra": "RA", "dec": "DEC", "z": "Z", "z_flag": "Q"},
                "survey": {"value": "2dFGRS"},
            }
        )
    return validate_config({"catalogs": entries})


def test_small_catalogs_in_balanced_batches(tmp_path):
    cfg = catalogs(tmp_path, {"a": 400, "b": 300, "c": 200, "d": 100, "big": 2000})
    small = 2000 * 20  # bytes: every file but big's is under it
    assert ingest_batches(cfg, 0, small) == {}
    batches = ingest_batches(cfg, 2, small)
    assert sorted(n for names in batches.values() for n in names) == ["a", "b", "c", "d"]
    assert all(len(names) >= 2 for names in batches.values())
    assert batches == ingest_batches(cfg, 2, small)  # deterministic
    # a batch of one is no batch: that catalog keeps its own job
    assert ingest_batches(catalogs(tmp_path, {"x": 10, "y": 10}), 2, small) == {}
    cfg["catalogs"].append({**cfg["catalogs"][0], "name": "h", "path": str(tmp_path)})
    assert "h" not in str(ingest_batches(cfg, 1, small))  # folders (HATS) are never batched


def test_batch_outputs_equal_one_job_each_and_errors_name_their_catalog(tmp_path, caplog):
    cfg = catalogs(tmp_path, {"a": 30, "b": 20, "c": 10})
    specs = [CatalogSpec.from_config(c) for c in cfg["catalogs"]]
    val = ValidationSettings.from_config(cfg["validation"])
    hom = HomogenizationSettings.from_config(cfg["homogenization"])
    surveys = [str(SHIPPED_SURVEYS_FILE)]
    one = tmp_path / "one"
    for spec in specs:
        made = (one / f"{spec.name}.parquet", one / f"{spec.name}.json")
        ingest_catalog(spec, val, hom, surveys, {}, *made)
    out = tmp_path / "batch"
    logs = [out / f"{s.name}.log" for s in specs]
    out.mkdir()
    caplog.set_level(logging.INFO)  # as snakemake_job sets it
    handler = logging.FileHandler(logs[0], mode="w")  # the job's log (snakemake_job opens it)
    logging.getLogger().addHandler(handler)
    try:
        ingest_catalogs(
            specs, val, hom, surveys, {},
            [out / f"{s.name}.parquet" for s in specs],
            [out / f"{s.name}.json" for s in specs],
            logs,
        )  # fmt: skip
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    for spec in specs:
        for ext in ("parquet", "json"):
            a = (one / f"{spec.name}.{ext}").read_bytes()
            assert a == (out / f"{spec.name}.{ext}").read_bytes()
    assert "b: 20 rows in" in logs[1].read_text() and "a:" not in logs[1].read_text()
    # one bad catalog: its own error; two: one error naming both; the good one is still made
    bad = [
        CatalogSpec.from_config({**c, "columns": {**c["columns"], "z": "nope"}})
        for c in cfg["catalogs"]
    ]
    cases = (([bad[0], specs[1]], "not found"), ([bad[0], bad[2]], "2 catalogs failed"))
    for broken, expected in cases:
        target = tmp_path / expected.replace(" ", "_")
        with pytest.raises(InputDataError, match=expected) as err:
            ingest_catalogs(
                broken, val, hom, surveys, {},
                [target / f"{i}.parquet" for i in range(2)],
                [target / f"{i}.json" for i in range(2)],
                [target / f"{i}.log" for i in range(2)],
            )  # fmt: skip
        if expected == "not found":  # the message is the catalog's own, as in its own job
            assert (target / "1.parquet").is_file() and "'nope'" in str(err.value)
        else:
            assert "a:" in str(err.value) and "c:" in str(err.value)
