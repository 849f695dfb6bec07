"""Bad input ends with one clear line, a non-zero exit and no output that looks finished."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow
PZFORGE = str(Path(sys.executable).parent / "pzforge")


def good_frame(n=50):
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "ID": [f"g{i}" for i in range(n)],
            "RA": rng.uniform(10, 11, n),
            "DEC": rng.uniform(-1, 1, n),
            "Z": rng.uniform(0.1, 1, n),
            "ZFLAGS": rng.choice([2, 3, 4], n),
        }
    )


def run_with(tmp_path, catalogs, **extra):
    config = {"run_name": "bad", "catalogs": catalogs, "registry": {"register": False}, **extra}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = dict(os.environ, PZFORGE_REGISTRY_URL=f"sqlite:///{tmp_path / 'r.sqlite'}")
    proc = subprocess.run(
        [PZFORGE, "run", "combine_redshift", "-c", str(cfg)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return proc


def catalog(path, **kw):
    spec = {
        "name": "cat",
        "path": str(path),
        "columns": {"id": "ID", "ra": "RA", "dec": "DEC", "z": "Z", "z_flag": "ZFLAGS"},
        "survey": {"value": "VVDS"},
    }
    spec.update(kw)
    return spec


def assert_clean_failure(proc, tmp_path, *needles):
    assert proc.returncode != 0
    err = proc.stderr
    assert "Traceback" not in err, err
    first = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert first, err
    for needle in needles:
        assert needle in first[0], f"{needle!r} not in {first[0]!r}"
    results = tmp_path / "results" / "bad"
    assert not (results / "summary.json").exists()
    assert not list(results.glob("combined/*.parquet"))
    assert not list(results.glob("ingest/*.parquet"))


def test_missing_file(tmp_path):
    proc = run_with(tmp_path, [catalog(tmp_path / "nope.parquet")])
    assert_clean_failure(proc, tmp_path, "nope.parquet", "not found")


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.parquet"
    good_frame().to_parquet(path)
    path.write_bytes(path.read_bytes()[:200])
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "cut.parquet", "cannot be read")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "empty.csv", "empty")


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    good_frame().iloc[:0].to_csv(path, index=False)
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "header.csv", "no rows")


def test_missing_mandatory_column(tmp_path):
    path = tmp_path / "cat.parquet"
    good_frame().drop(columns=["Z"]).to_parquet(path)
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "'Z' (for z) not found", "cat.parquet")


def test_non_numeric_ra(tmp_path):
    path = tmp_path / "cat.csv"
    df = good_frame()
    df["RA"] = "10h20m"
    df.to_csv(path, index=False)
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "'RA'", "not numeric", "row 0")


def test_dec_out_of_range_everywhere(tmp_path):
    path = tmp_path / "cat.parquet"
    df = good_frame()
    df["DEC"] = df["DEC"] + 120
    df.to_parquet(path)
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "no valid row", "dec outside")


def test_invalid_rows_stop_the_run_when_asked(tmp_path):
    path = tmp_path / "cat.parquet"
    df = good_frame()
    df.loc[3, "Z"] = -99
    df.to_parquet(path)
    proc = run_with(tmp_path, [catalog(path)], validation={"on_invalid": "error"})
    assert_clean_failure(proc, tmp_path, "sentinel", "row 3")


def test_survey_with_no_rules(tmp_path):
    path = tmp_path / "cat.parquet"
    good_frame().to_parquet(path)
    proc = run_with(tmp_path, [catalog(path, survey={"value": "NoSuchSurvey"})])
    assert_clean_failure(proc, tmp_path, "NoSuchSurvey", "VVDS")


def test_flags_outside_documented_values(tmp_path):
    path = tmp_path / "cat.parquet"
    df = good_frame()
    df["ZFLAGS"] = 7  # last digit 7 is no VVDS flag
    df.to_parquet(path)
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "7")


def test_unknown_format(tmp_path):
    path = tmp_path / "cat.xyz"
    path.write_text("a,b\n1,2\n")
    proc = run_with(tmp_path, [catalog(path)])
    assert_clean_failure(proc, tmp_path, "cat.xyz", "format")


def test_two_catalogs_with_the_same_name(tmp_path):
    path = tmp_path / "cat.parquet"
    good_frame().to_parquet(path)
    proc = run_with(tmp_path, [catalog(path), catalog(path)])
    assert_clean_failure(proc, tmp_path, "two catalogs are named 'cat'")


def test_unknown_config_key(tmp_path):
    path = tmp_path / "cat.parquet"
    good_frame().to_parquet(path)
    proc = run_with(tmp_path, [catalog(path)], crossmatch={"radius": 1})
    assert_clean_failure(proc, tmp_path, "crossmatch.radius", "not known")


def test_wrong_type_config_value(tmp_path):
    path = tmp_path / "cat.parquet"
    good_frame().to_parquet(path)
    proc = run_with(tmp_path, [catalog(path)], crossmatch={"radius_arcsec": "one"})
    assert_clean_failure(proc, tmp_path, "crossmatch.radius_arcsec")


def test_failure_mode_files(shared_data, tmp_path):
    fm = shared_data / "failure-modes"
    cases = [
        (
            "test_survey_col_missing.parquet",
            {"survey": {"column": "survey"}},
            "'survey' (survey column) not found",
        ),
        ("test_survey_not_supported.parquet", {"survey": {"column": "survey"}}, "not_supported"),
        (
            "test_survey_supported_but_wrong_flags.parquet",
            {"survey": {"column": "survey"}},
            "2dFGRS",
        ),
        (
            "test_homogenized_columns_out_of_range.parquet",
            {
                "survey": {"column": "survey"},
                "flags_homogenized": True,
                "columns": {
                    "id": "id",
                    "ra": "ra",
                    "dec": "dec",
                    "z": "z",
                    "z_flag": "z_flag_homogenized",
                    "type": "instrument_type_homogenized",
                },
            },
            "z_flag",
        ),
    ]
    for name, overrides, needle in cases:
        work = tmp_path / name.split(".")[0]
        work.mkdir()
        spec = catalog(fm / name, **overrides)
        if "columns" not in overrides:
            spec["columns"] = {"id": "id", "ra": "ra", "dec": "dec", "z": "z", "z_flag": "z_flag"}
        proc = run_with(work, [spec])
        assert_clean_failure(proc, work, needle)


def test_field_too_dense_for_the_finest_tiles_names_the_partition_keys(tmp_path):
    from pzforge.errors import ConfigError
    from pzforge.tiles.partition import partition_catalog

    n = 300  # all in one order-2 pixel, more than the pixel threshold
    path = tmp_path / "dense.parquet"
    pd.DataFrame(
        {"id": [f"r{i}" for i in range(n)], "ra": np.full(n, 10.0), "dec": np.full(n, 5.0)}
    ).to_parquet(path)
    settings = {"pixel_threshold": 100, "highest_healpix_order": 2, "margin_threshold_arcsec": 1}
    with pytest.raises(
        ConfigError, match=r"raise partition.highest_healpix_order .* or partition.pixel_thr"
    ):
        partition_catalog([path], tmp_path / "cat", None, settings, n_workers=1)
