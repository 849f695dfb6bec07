"""End-to-end Combine Redshift Catalogs runs through the real CLI, Snakemake, hats-import and lsdb."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lsdb
import pandas as pd
import pytest
import yaml

from pzforge.combine import duplicates
from pzforge.combine.columns import OUTPUT_COLUMNS
from registry.formats import read_table
from tests.support.cli import pzforge
from tests.support.specz import SPECZ

pytestmark = pytest.mark.slow


def ingested(results: Path) -> pd.DataFrame:
    return pd.concat(
        [pd.read_parquet(p) for p in sorted((results / "ingest").glob("*.parquet"))],
        ignore_index=True,
    )


def assert_groups_match_reference(results: Path, radius: float = 1.0) -> pd.DataFrame:
    """Groups in the output equal connected components of a global brute-force KD-tree."""
    rows = ingested(results)
    ref_groups = duplicates.group_pairs(duplicates.reference_pairs(rows, radius))
    out = pd.read_parquet(next((results / "combined").glob("*.parquet")))
    members = out.loc[out["group_id"].notna(), ["id", "group_id"]].sort_values(["group_id", "id"])
    members = members.reset_index(drop=True).astype({"id": "string", "group_id": "int64"})
    pd.testing.assert_frame_equal(members, ref_groups.astype({"id": "string", "group_id": "int64"}))
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    env = {"PZFORGE_REGISTRY_URL": f"sqlite:///{workdir / 'registry.sqlite'}"}
    proc = pzforge("demo", "--workdir", workdir, cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir, proc


def test_demo_prints_summary_and_registered_product(demo):
    workdir, proc = demo
    text = proc.stdout
    for expected in (
        "rows in",
        "dropped",
        "duplicates:",
        "kept",
        "discarded",
        "unresolved",
        "outputs:",
        "registered product",
    ):
        assert expected in text, f"{expected!r} missing from demo output:\n{text}"
    assert "Reference Redshift Catalog" in text


def test_demo_shows_live_progress_from_snakemake_events(demo):
    """Elapsed time, jobs done of total and the rules running, from the events plugin."""
    _workdir, proc = demo
    lines = [ln for ln in proc.stderr.splitlines() if "jobs done; running:" in ln]
    assert lines, proc.stderr
    line = re.compile(r"\[\s*[\d.]+s\] \d+/\d+ jobs done; running: (-|\w+)")
    assert all(line.search(ln) for ln in lines), lines
    assert any("running: ingest_catalog" in ln for ln in lines), lines
    assert any("find_duplicates" in ln for ln in lines), lines
    done, total = re.search(r"(\d+)/(\d+) jobs done", lines[-1]).groups()
    assert done == total


def test_demo_outputs_follow_the_contract(demo):
    workdir, _ = demo
    results = workdir / "results" / "demo_combined"
    out = assert_groups_match_reference(results)
    assert list(out.columns) == OUTPUT_COLUMNS + ["MAGI"]
    assert out["id"].is_unique
    assert set(out["tie_result"].dropna().unique()) <= {0, 1, 2, 3}
    assert out["group_id"].notna().sum() > 100
    summary = json.loads((results / "summary.json").read_text())
    assert summary["rows_out"] == len(out)
    assert summary["rows_in"] > summary["rows_valid"]  # the samples carry invalid rows
    assert summary["catalogs"]["2dfgrs"]["dropped"]["z is a sentinel value"] > 0
    assert summary["catalogs"]["vvds"]["dropped"]["ra not a finite number"] > 0
    assert summary["duplicates"]["groups"] == out["group_id"].nunique()
    per_survey = pd.DataFrame(summary["per_survey"]).T
    assert per_survey["in_output"].sum() == len(out)
    # HATS output readable by lsdb, same rows as the flat file
    hats = lsdb.open_catalog(str(results / "combined" / "demo_combined_hats")).compute()
    assert len(hats) == len(out) and set(hats["id"]) == set(out["id"])
    # every export has the same rows
    csv = pd.read_csv(results / "combined" / "demo_combined.csv")
    assert len(csv) == len(out)
    from astropy.table import Table

    assert len(Table.read(results / "combined" / "demo_combined.fits")) == len(out)
    hdf5 = read_table(results / "combined" / "demo_combined.hdf5", "hdf5", hdf5_key="combined")
    assert len(hdf5) == len(out)


def test_same_inputs_give_byte_identical_parquet(demo, tmp_path):
    workdir, _ = demo
    env = {"PZFORGE_REGISTRY_URL": f"sqlite:///{tmp_path / 'registry.sqlite'}"}
    proc = pzforge("demo", "--workdir", tmp_path, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    for ext in ("parquet", "csv", "fits"):
        name = f"results/demo_combined/combined/demo_combined.{ext}"
        assert (workdir / name).read_bytes() == (tmp_path / name).read_bytes(), ext


def test_remove_mode_keeps_one_row_per_resolved_group(demo, tmp_path):
    workdir, _ = demo
    config = yaml.safe_load((Path(__file__).parents[2] / "config" / "config.yaml").read_text())
    for cat in config["catalogs"]:
        cat["path"] = str(workdir / cat["path"])
    config["output"]["formats"] = ["parquet"]
    config["registry"] = {"register": False}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = pzforge(
        "run",
        "combine_redshift",
        "-c",
        cfg,
        "--set",
        "resolution.mode=remove",
        "--set",
        "resolution.ties=remove_all",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    removed = pd.read_parquet(tmp_path / "results/demo_combined/combined/demo_combined.parquet")
    marked = pd.read_parquet(workdir / "results/demo_combined/combined/demo_combined.parquet")
    assert set(removed["tie_result"].unique()) == {1}
    assert len(removed) == (marked["tie_result"] == 1).sum()
    assert removed.loc[removed["group_id"].notna()].groupby("group_id").size().max() == 1


def specz_config(shared_data: Path) -> dict:
    catalogs = []
    for stem, (columns, survey_col) in SPECZ.items():
        catalogs.append(
            {
                "name": stem.split("_")[0].replace(".", ""),
                "path": str(shared_data / "specz" / f"{stem}_random_sample.parquet"),
                "columns": columns,
                "survey": {"column": survey_col},
                # JADES repeats unique_id for re-observed objects, 3D-HST phot_id across fields
                "on_duplicate_id": "suffix",
            }
        )
    return {
        "run_name": "specz",
        "catalogs": catalogs,
        "homogenization": {"on_unknown_flag": "null"},
        "partition": {"pixel_threshold": 1500},
        "registry": {"register": False},
    }


def test_all_real_specz_samples_groups_match_reference(shared_data, tmp_path):
    cfg = tmp_path / "specz.yaml"
    cfg.write_text(yaml.safe_dump(specz_config(shared_data)))
    proc = pzforge("run", "combine_redshift", "-c", cfg, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = tmp_path / "results" / "specz"
    out = assert_groups_match_reference(results)
    groups = out.loc[out["group_id"].notna()]
    # genuine duplicates between and within the real surveys (shared/data/README.md)
    assert groups["group_id"].nunique() > 50
    cross = groups.groupby("group_id")["catalog"].nunique()
    assert (cross > 1).sum() > 20
    assert (groups.groupby("group_id")["tie_result"].apply(lambda s: (s == 1).sum()) <= 1).all()


# --- issue 15: runs without duplicates, stars, rows without redshift, footprints, QA ----------


def small_catalog(path, ra0, n=30, seed=0, star_rows=(), no_z_rows=()):
    import numpy as np

    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "ID": [f"s{i}" for i in range(n)],
            "RA": ra0 + np.arange(n) * 0.01,  # 36" apart: no duplicate inside a catalog
            "DEC": np.full(n, -5.0),
            "Z": rng.uniform(0.1, 1.0, n),
            "Q": rng.choice([3, 4], n),
            "MAG": rng.uniform(18, 24, n),
        }
    )
    df.loc[list(star_rows), "Q"] = 6
    df.loc[list(star_rows), "Z"] = 0.0
    df.loc[list(no_z_rows), "Z"] = np.nan
    df.to_parquet(path)
    return path


def small_config(paths, **extra):
    return {
        "run_name": "small",
        "catalogs": [
            {
                "name": name,
                "path": str(path),
                "columns": {"id": "ID", "ra": "RA", "dec": "DEC", "z": "Z", "z_flag": "Q"},
                "survey": {"value": "6dFGS"},
                "extra_columns": {"MAG": "float64"},
            }
            for name, path in paths.items()
        ],
        "output": {"formats": ["parquet", "csv"]},
        "registry": {"register": False},
        "partition": {"pixel_threshold": 1000, "highest_healpix_order": 6},
        **extra,
    }


def run_small(tmp_path, config):
    cfg = tmp_path / "small.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = pzforge("run", "combine_redshift", "-c", cfg, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = tmp_path / "results" / "small"
    return pd.read_parquet(results / "combined" / "small.parquet"), results, proc


def test_disjoint_catalogs_without_any_duplicate(tmp_path):
    """No duplicates at all: the run finishes (no KeyError in the summary), every star is 3,
    rows without redshift are kept with flag 0, footprint flags and extra columns are there."""
    paths = {
        "a": small_catalog(tmp_path / "a.parquet", 10.0, star_rows=[3], no_z_rows=[5]),
        "b": small_catalog(tmp_path / "b.parquet", 50.0, seed=1, star_rows=[0, 7]),
    }
    config = small_config(
        paths,
        validation={"no_redshift": "keep"},
        footprints=[{"name": "in_a", "circles": [{"ra": 10.1, "dec": -5.0, "radius_deg": 0.05}]}],
    )
    out, results, proc = run_small(tmp_path, config)
    assert list(out.columns) == [*OUTPUT_COLUMNS, "in_a", "MAG"]
    assert len(out) == 60 and out["group_id"].isna().all() and (out["n_members"] == 1).all()
    stars = out["z_flag_homogenized"] == 6
    assert stars.sum() == 3
    assert (out.loc[stars, "tie_result"] == 3).all() and (
        out.loc[stars, "tie_reason"] == "star"
    ).all()
    assert (out.loc[~stars, "tie_result"] == 1).all() and (
        out.loc[~stars, "tie_reason"] == "unique"
    ).all()
    no_z = out["id"] == "a:s5"
    assert out.loc[no_z, "z"].isna().all() and (out.loc[no_z, "z_flag_homogenized"] == 0).all()
    assert (out["group_surveys"] == "6dFGS").all()
    # within 0.05 deg of (10.1, -5): RA 10.05 ... 10.15
    assert set(out.loc[out["in_a"], "id"]) == {f"a:s{i}" for i in range(5, 16)}
    assert out["MAG"].notna().all()
    summary = json.loads((results / "summary.json").read_text())
    assert summary["duplicates"]["pairs"] == 0 and summary["rows_without_redshift"] == 1
    assert summary["tie_reasons"] == {"star": 3, "unique": 57}
    assert summary["per_survey"]["6dFGS"]["isolated_star"] == 3
    assert (results / "qa.html").is_file() and (results / "qa" / "sky.png").is_file()
    qa = json.loads((results / "qa" / "qa.json").read_text())
    assert qa["residual_pairs_after_remove"]["total"] == 0


def test_single_catalog_remove_mode_drops_every_star(tmp_path):
    paths = {"a": small_catalog(tmp_path / "a.parquet", 10.0, star_rows=[1, 2])}
    config = small_config(paths, resolution={"mode": "remove"}, output={"z_flag_min": 3})
    out, results, _ = run_small(tmp_path, config)
    assert len(out) == 28 and set(out["tie_result"]) == {1}
    assert (out["z_flag_homogenized"] >= 3).all()
    summary = json.loads((results / "summary.json").read_text())
    assert summary["rows_out"] == 28 and summary["per_survey"]["6dFGS"]["isolated_star"] == 2


def test_real_samples_tie_reasons_and_survey_pairs(shared_data, tmp_path):
    """The 12 real samples: groups equal brute force (above) and every group member has a
    tie_reason; printed for the record."""
    cfg = tmp_path / "specz.yaml"
    config = specz_config(shared_data)
    config["resolution"] = {"mode": "mark"}
    cfg.write_text(yaml.safe_dump(config))
    proc = pzforge("run", "combine_redshift", "-c", cfg, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = tmp_path / "results" / "specz"
    out = assert_groups_match_reference(results)
    assert out["tie_reason"].notna().all()
    assert (out.loc[out["z_flag_homogenized"] == 6, "tie_result"] == 3).all()
    groups = out.loc[out["group_id"].notna()]
    assert (groups.groupby("group_id")["tie_result"].apply(lambda s: (s == 1).sum()) <= 1).all()
    qa = json.loads((results / "qa" / "qa.json").read_text())
    assert qa["residual_pairs_after_remove"]["other"] == 0
    print(out["tie_reason"].value_counts().to_string())
