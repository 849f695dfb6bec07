"""The workflow itself: snakemake --lint is clean, a dry run plans every rule, params drive reruns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def demo_config(tmp_path, sample_catalogs) -> Path:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    folder = next(iter(sample_catalogs.values())).parent
    for cat in config["catalogs"]:
        cat["path"] = str(folder / Path(cat["path"]).name)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lint_is_clean(tmp_path, sample_catalogs):
    proc = snakemake("--configfile", demo_config(tmp_path, sample_catalogs), "--lint", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def test_dry_run_plans_every_rule(tmp_path, sample_catalogs):
    proc = snakemake(
        "--configfile",
        demo_config(tmp_path, sample_catalogs),
        "--profile",
        str(ROOT / "profiles/local"),
        "--dry-run",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rule in (
        "ingest_catalog",
        "partition_catalog",
        "find_duplicates",
        "resolve_duplicates",
        "write_combined_catalog",
        "export_catalog",
        "summarize_run",
        "write_combined_manifest",
    ):
        assert rule in proc.stdout, rule


def test_plain_snakemake_reports_bad_config(tmp_path, sample_catalogs):
    cfg = demo_config(tmp_path, sample_catalogs)
    data = yaml.safe_load(cfg.read_text())
    data["crossmatch"] = {"radius_arcsec": "wide"}
    cfg.write_text(yaml.safe_dump(data))
    proc = snakemake("--configfile", cfg, "--dry-run", cwd=tmp_path)
    assert proc.returncode != 0
    assert "crossmatch.radius_arcsec" in proc.stdout + proc.stderr


def embedding_config(tmp_path, shared_data) -> Path:
    config = yaml.safe_load((ROOT / "config" / "embedding.yaml").read_text())
    config["input"]["path"] = str(shared_data / "photometry" / "test_dc2_training_9816.hdf5")
    path = tmp_path / "embedding.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_embedding_lint_and_dry_run(tmp_path, shared_data):
    cfg = embedding_config(tmp_path, shared_data)
    proc = snakemake("--configfile", cfg, "--lint", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr
    proc = snakemake(
        "--configfile", cfg, "--profile", str(ROOT / "profiles/local"), "--dry-run", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rule in (
        "prepare_embedding_features",
        "fit_embedding",
        "compute_embedding_metrics",
        "plot_embedding",
        "summarize_embedding",
        "write_embedding_manifest",
    ):
        assert rule in proc.stdout, rule


def test_embedding_bad_setting_stops_before_any_job(tmp_path, shared_data):
    cfg = embedding_config(tmp_path, shared_data)
    data = yaml.safe_load(cfg.read_text())
    data["umap"]["n_neighbors"] = 1
    cfg.write_text(yaml.safe_dump(data))
    proc = snakemake("--configfile", cfg, "--dry-run", cwd=tmp_path)
    assert proc.returncode != 0
    assert "umap.n_neighbors" in proc.stdout + proc.stderr
    assert "2-200" in proc.stdout + proc.stderr


def training_set_config(tmp_path) -> Path:
    """A tiny Training Set config: a reference Parquet file and an LSST-layout photometry file."""
    import pandas as pd

    ref = pd.DataFrame({"id": ["a", "b"], "ra": [10.0, 10.1], "dec": [1.0, 1.1], "z": [0.3, 0.5]})
    ref.to_parquet(tmp_path / "ref.parquet")
    phot = pd.DataFrame({"objectId": [1, 2], "ra": [10.0, 10.1], "decl": [1.0, 1.1]})
    for band in "gri":
        phot[f"{band}_cModelFlux"] = [100.0, 200.0]
        phot[f"{band}_cModelFluxErr"] = [1.0, 2.0]
    phot.to_parquet(tmp_path / "phot.parquet")
    config = {
        "pipeline": "training_set",
        "reference": {"path": str(tmp_path / "ref.parquet")},
        "photometry": {"path": str(tmp_path / "phot.parquet"), "bands": ["g", "r", "i"]},
        "split": {"method": "random", "output": "products"},
        "output": {"formats": ["parquet", "csv"]},
    }
    path = tmp_path / "training_set.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_training_set_lint_and_dry_run(tmp_path):
    cfg = training_set_config(tmp_path)
    proc = snakemake("--configfile", cfg, "--lint", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr
    proc = snakemake(
        "--configfile", cfg, "--profile", str(ROOT / "profiles/local"), "--dry-run", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rule in (
        "ingest_reference",
        "ingest_photometry",
        "partition_catalog",
        "make_training_set",
        "export_catalog",
        "write_training_set_manifest",
    ):
        assert rule in proc.stdout, rule
    assert "products/train.json" in proc.stdout and "products/test.json" in proc.stdout
