"""Provenance of real runs: a rerun with a changed science setting, a failed run, the report in
headless Chromium, exports and download zips. Real Snakemake, hats-import, lsdb and SQLite."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from prov.model import ProvDocument

from registry import Registry
from tests.support.cli import pzforge

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
RUN_ID = re.compile(r"run id: ([0-9a-f-]{36})")


def small_config(folder: Path, sample_catalogs: dict, **extra) -> Path:
    """Two overlapping catalogs of the demo (JADES and CANDELS share GOODS-S), Parquet only."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    keep = {"jades", "candels"}
    config["catalogs"] = [c for c in config["catalogs"] if c["name"] in keep]
    sample_dir = next(iter(sample_catalogs.values())).parent
    for cat in config["catalogs"]:
        cat["path"] = str(sample_dir / Path(cat["path"]).name)
    config["run_name"] = "prov_test"
    config["output"] = {"formats": ["parquet"]}
    config |= extra
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def reruns(tmp_path_factory, sample_catalogs):
    """Run, then rerun with crossmatch.radius_arcsec changed."""
    workdir = tmp_path_factory.mktemp("prov")
    url = f"sqlite:///{workdir / 'registry.sqlite'}"
    cfg = small_config(workdir, sample_catalogs)
    env = {"PZFORGE_REGISTRY_URL": url}
    first = pzforge("run", "combine_redshift", "-c", cfg, cwd=workdir, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    second = pzforge(
        "run", "combine_redshift", "-c", cfg, "--set", "crossmatch.radius_arcsec=2.0",
        cwd=workdir, env=env,
    )  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    ids = [RUN_ID.search(p.stdout).group(1) for p in (first, second)]
    return workdir, url, env, ids


def test_rerun_runs_only_the_jobs_whose_params_changed(reruns):
    _, url, _, (r1, r2) = reruns
    reg = Registry.from_url(url, user="tests")
    first, second = reg.get_run(r1), reg.get_run(r2)
    assert first["status"] == second["status"] == "success"
    assert {j["rule"] for j in first["jobs"]} >= {"ingest_catalog", "partition_catalog"}
    rules = {j["rule"]: j for j in second["jobs"]}
    assert set(rules) == {
        "find_duplicates",
        "resolve_duplicates",
        "write_combined_catalog",
        "summarize_run",
        "write_qa_report",
        "write_combined_manifest",
    }
    assert "Params have changed" in rules["find_duplicates"]["reason"]
    assert "radius_arcsec" in rules["find_duplicates"]["reason"]
    assert "updated by another job" in rules["resolve_duplicates"]["reason"]
    assert second["overrides"] == ["crossmatch.radius_arcsec=2.0"]
    assert second["config"]["crossmatch"]["radius_arcsec"] == 2.0
    for job in second["jobs"]:
        assert job["code_hash"] and job["started_at"] and job["ended_at"]
        assert all(len(f["checksum"]) == 64 for f in job["files"])
    # inputs the second run did not remake are linked with the content the first run made
    used = {
        f["path"]: f["checksum"] for j in second["jobs"] for f in j["files"] if f["role"] == "used"
    }
    made = {
        f["path"]: f["checksum"]
        for j in first["jobs"]
        for f in j["files"]
        if f["role"] == "generated"
    }
    hats = next(p for p in used if p.endswith("hats/input"))
    assert used[hats] == made[hats]
    bench = next(j for j in first["jobs"] if j["rule"] == "partition_catalog")["benchmark"]
    assert bench["wall_s"] > 0 and bench["max_rss_mb"] > 0


def test_rerun_registers_a_new_version_pointing_to_the_old(reruns):
    _, url, _, (r1, r2) = reruns
    reg = Registry.from_url(url, user="tests")
    products = sorted(reg.list_products(name="prov_test"), key=lambda p: p.id)
    assert [(p.run_id, p.supersedes_id) for p in products] == [(r1, None), (r2, products[0].id)]
    assert reg.get_run(r2)["products"][0]["id"] == products[1].id


def test_diff_names_the_changed_key_and_outputs(reruns):
    workdir, _, env, (r1, r2) = reruns
    proc = pzforge("provenance", "diff", r1, r2, cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "crossmatch.radius_arcsec: 1.0 -> 2.0" in proc.stdout
    assert "software: none" in proc.stdout and "inputs: none" in proc.stdout
    assert re.search(r"changed: .*duplicates/pairs\.parquet", proc.stdout)
    assert "find_duplicates: Params have changed" in proc.stdout


def test_ingesting_again_changes_nothing(reruns, monkeypatch):
    from sqlalchemy import func, select

    from pzforge.provenance.ingest import collect_run
    from registry.models import DataFile, Job, JobFile

    workdir, url, _, (r1, _r2) = reruns
    reg = Registry.from_url(url, user="tests")

    def counts():
        with reg.session(readonly=True) as s:
            return [s.scalar(select(func.count()).select_from(m)) for m in (Job, DataFile, JobFile)]

    before = counts()
    monkeypatch.chdir(workdir)
    run, jobs = collect_run(r1, "success")
    assert reg.ingest_run(run, jobs)["jobs"] == 0
    assert counts() == before


def test_show_export_and_download_carry_provenance(reruns, tmp_path):
    workdir, url, env, (_r1, r2) = reruns
    pid = str(Registry.from_url(url, user="tests").get_run(r2)["products"][0]["id"])
    show = pzforge("provenance", "show", pid, cwd=workdir, env=env)
    assert show.returncode == 0 and "find_duplicates" in show.stdout and r2 in show.stdout
    out = tmp_path / "p.json"
    assert pzforge("provenance", "export", pid, "-o", out, cwd=workdir, env=env).returncode == 0
    doc = ProvDocument.deserialize(content=out.read_text(), format="json")
    assert any(str(r.identifier) == f"run:{r2}" for r in doc.get_records())
    crate = pzforge(
        "provenance", "export", r2, "-f", "ro-crate", "-o", tmp_path / "crate", cwd=workdir, env=env
    )
    assert crate.returncode == 0, crate.stderr
    meta = json.loads((tmp_path / "crate" / "ro-crate-metadata.json").read_text())
    assert any(
        e.get("@type") == "CreateAction" and e["@id"] == f"#run-{r2}" for e in meta["@graph"]
    )
    dl = pzforge("products", "download", pid, "-o", tmp_path, cwd=workdir, env=env)
    assert dl.returncode == 0, dl.stderr
    with zipfile.ZipFile(next(tmp_path.glob("*.zip"))) as zf:
        prov = json.loads(zf.read("provenance.prov.json"))
    assert f"run:{r2}" in prov["activity"]


def test_report_opens_in_headless_chromium(reruns, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip(
            "Chromium is not installed (scripts/system/setup.sh installs the chromium package)"
        )
    workdir, _, env, (_r1, r2) = reruns
    report = tmp_path / "report.html"
    proc = pzforge("provenance", "report", r2, "-o", report, cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "http://" not in report.read_text().replace("http://www.w3.org/2000/svg", "")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="dag"' in dom
    for rule in ("find_duplicates", "write_combined_catalog"):
        assert f">{rule}</text>" in dom  # a node of the DAG picture
    assert '<table class="jobs">' in dom and '<table class="outputs mono">' in dom
    assert "crossmatch.radius_arcsec: 1.0 -&gt; 2.0" in dom  # the diff against the previous run
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, "--window-size=1280,2000", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000


def test_failed_run_keeps_provenance_and_registers_nothing(tmp_path, sample_catalogs):
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    cfg = small_config(tmp_path, sample_catalogs)
    proc = pzforge(
        # a column that exists (so the checks before any job pass) but holds letters A-E: the
        # ingest job fails
        "run", "combine_redshift", "-c", cfg, "--set", "catalogs.jades.columns.z=z_Spec_flag",
        cwd=tmp_path, env={"PZFORGE_REGISTRY_URL": url},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "z_Spec_flag" in proc.stderr
    reg = Registry.from_url(url, user="tests")
    assert reg.list_products() == []
    (run,) = reg.list_runs()
    detail = reg.get_run(run["id"])
    assert detail["status"] == "failed" and "z_Spec_flag" in detail["error"]
    failed = [j for j in detail["jobs"] if j["status"] == "failed"]
    assert [(j["rule"], j["wildcards"]) for j in failed] == [
        ("ingest_catalog", {"catalog": "jades"})
    ]
    assert "z_Spec_flag" in failed[0]["error"]
    assert any(j["status"] == "incomplete" for j in detail["jobs"])  # planned, never finished


def test_lineage_through_a_second_pipeline(reruns, tmp_path):
    """combine_redshift -> training_set: the Training Set points back to the combined catalog,
    and the lineage queries (API and CLI) walk the chain both ways."""
    workdir, url, env, (_r1, r2) = reruns
    reg = Registry.from_url(url, user="tests")
    combined = reg.get_run(r2)["products"][0]
    # photometry of the same objects, 0.2 arcsec away, fluxes in microjansky
    cat = pd.read_parquet(workdir / "results" / "prov_test" / "combined" / "prov_test.parquet")
    phot = cat[["ra", "dec"]].iloc[::2].reset_index(drop=True)
    phot["dec"] += 0.2 / 3600
    phot.insert(0, "objid", range(len(phot)))
    for band, flux in (("g", 1.0), ("r", 2.0)):
        phot[f"f_{band}"] = flux + 0.001 * phot["objid"]
        phot[f"e_{band}"] = 0.1
    phot.to_parquet(tmp_path / "phot.parquet")
    config = {
        "pipeline": "training_set",
        "run_name": "prov_training",
        "reference": {"product": combined["internal_name"]},
        "photometry": {
            "path": str(tmp_path / "phot.parquet"),
            "columns": {"id": "objid", "ra": "ra", "dec": "dec"},
            "bands": ["g", "r"],
            "value_column": "f_{band}",
            "error_column": "e_{band}",
            "flux_unit": "uJy",
        },
        "output": {"formats": ["parquet"]},
    }
    cfg = workdir / "training.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = pzforge("run", "training_set", "-c", cfg, cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_id = RUN_ID.search(proc.stdout).group(1)
    (training,) = reg.get_run(run_id)["products"]
    assert training["product_type"] == "Training Set"

    assert [p["id"] for p in reg.upstream(training["id"])] == [combined["id"]]
    assert training["id"] in [p["id"] for p in reg.downstream(combined["id"])]
    info = reg.product_provenance(training["id"])
    assert info["run_id"] == run_id and [p["id"] for p in info["upstream"]] == [combined["id"]]
    up = pzforge("provenance", "upstream", str(training["id"]), cwd=workdir, env=env)
    assert up.returncode == 0 and combined["internal_name"] in up.stdout, up.stderr
    down = pzforge("provenance", "downstream", combined["internal_name"], cwd=workdir, env=env)
    assert down.returncode == 0 and training["internal_name"] in down.stdout, down.stderr
    # the PROV document of the training set carries the derivation from the combined catalog
    doc = json.loads(reg.export_prov_json([training["id"]]))
    derivations = {
        (d["prov:generatedEntity"], d["prov:usedEntity"]) for d in doc["wasDerivedFrom"].values()
    }
    assert (f"product:{training['id']}", f"product:{combined['id']}") in derivations
