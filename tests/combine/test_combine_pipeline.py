"""End-to-end Combine Redshift Catalogs runs through the real CLI, Snakemake, hats-import and lsdb."""

from __future__ import annotations

import json
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
    name = "results/demo_combined/combined/demo_combined.parquet"
    assert (workdir / name).read_bytes() == (tmp_path / name).read_bytes()


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
