"""Combine Redshift Catalogs through profiles/slurm on a live two-node SLURM, Dask workers as
SLURM jobs: same bytes as the local profile; failures, interruption and resume."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
FAST = ROOT / "tests" / "slurm" / "fast-profile"


def write_config(workdir: Path, sample_catalogs, **overrides) -> Path:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    folder = next(iter(sample_catalogs.values())).parent
    for cat in config["catalogs"]:
        cat["path"] = str(folder / Path(cat["path"]).name)
    config["registry"] = {"register": False, "url": f"sqlite:///{workdir / 'registry.sqlite'}"}
    config["output"] = {"formats": ["parquet"]}
    config.update(overrides)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_cmd(config: Path, profile: str) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(config),
        "--profile",
        str(ROOT / "profiles" / profile),
    ]
    return cmd + (["--workflow-profile", str(FAST)] if profile == "slurm" else [])


def run(config: Path, profile: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_cmd(config, profile),
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def jobs_of(workdir: Path) -> list[tuple[str, str, str, str]]:
    """(job id, name, node, state) of SLURM jobs whose working directory is ``workdir``."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i|%j|%N|%T|%Z"], capture_output=True, text=True
    ).stdout
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    return [(r[0], r[1], r[2], r[3]) for r in rows if Path(r[4]).resolve() == workdir.resolve()]


DASK_ON_SLURM = {
    "cluster": "slurm",
    "jobs": 2,
    "memory": "1GB",
    "queue": "debug",
    "interface": "lo",
    "worker_timeout_s": 90,
}


def test_slurm_output_is_byte_identical_to_local(slurm, sample_catalogs, tmp_path):
    local = write_config(tmp_path / "local", sample_catalogs)
    remote = write_config(tmp_path / "slurm", sample_catalogs, dask=DASK_ON_SLURM)
    done = run(local, "local")
    assert done.returncode == 0, done.stderr[-3000:]
    done = run(remote, "slurm")
    assert done.returncode == 0, done.stderr[-3000:]
    name = "results/demo_combined/combined/demo_combined.parquet"
    assert (local.parent / name).read_bytes() == (remote.parent / name).read_bytes()
    jobs = jobs_of(remote.parent)
    rule_nodes = {node for _id, jname, node, _s in jobs if jname != "pzforge-dask"}
    assert rule_nodes == {"node1", "node2"}, jobs  # rules spread over both nodes
    assert all(state == "COMPLETED" for _i, jname, _n, state in jobs if jname != "pzforge-dask")
    workers = [j for j in jobs if j[1] == "pzforge-dask"]
    assert len(workers) >= 2  # Dask workers of partition + find_duplicates ran as SLURM jobs
    assert not [j for j in workers if j[3] in ("PENDING", "RUNNING")]  # and were all shut down
    # provenance: every job recorded with the SLURM job id and node it ran on
    from registry import Registry

    reg = Registry.from_url(f"sqlite:///{remote.parent / 'registry.sqlite'}")
    (summary,) = reg.list_runs()
    run_info = reg.get_run(summary["id"])
    assert run_info["status"] == "success" and run_info["executor"] == "slurm"
    slurm_jobs = {(i, node) for i, jname, node, _s in jobs if jname != "pzforge-dask"}
    recorded = {(j["slurm_job_id"], j["node"]) for j in run_info["jobs"] if j["slurm_job_id"]}
    assert recorded and recorded <= slurm_jobs, (recorded, slurm_jobs)
    local_rules = {j["rule"] for j in run_info["jobs"] if not j["slurm_job_id"]}
    assert local_rules <= {"write_combined_manifest"}, local_rules  # localrule: runs on the host


def test_failed_job_fails_the_run_and_shows_its_log(slurm, sample_catalogs, tmp_path):
    config = write_config(tmp_path / "fail", sample_catalogs)
    data = yaml.safe_load(config.read_text())
    # z mapped to a text column: the checks before any job pass (it exists), the ingest job fails
    data["catalogs"][0]["columns"]["z"] = "survey_name"
    config.write_text(yaml.safe_dump(data))
    done = run(config, "slurm")
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert "Error in rule ingest_catalog" in text
    assert "PZFORGE-ERROR" in text and "not numeric" in text  # the rule's log is shown


def test_sigint_cancels_jobs_and_rerun_resumes(slurm, sample_catalogs, tmp_path):
    config = write_config(tmp_path / "resume", sample_catalogs)
    workdir = config.parent
    proc = subprocess.Popen(
        snakemake_cmd(config, "slurm"),
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    ingest = workdir / "results/demo_combined/ingest"
    deadline = time.time() + 300
    # interrupt once Snakemake has recorded two finished jobs (not merely seen their files)
    while time.time() < deadline and sum("steps (" in ln for ln in lines) < 2:
        time.sleep(0.5)
    assert proc.poll() is None, "".join(lines)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    time.sleep(2)
    active = [j for j in jobs_of(workdir) if j[3] in ("PENDING", "RUNNING", "CONFIGURING")]
    assert active == [], active
    finished = {p: p.stat().st_mtime_ns for p in ingest.glob("*.parquet")}
    assert finished
    done = run(config, "slurm")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (workdir / "results/demo_combined/summary.json").exists()
    for path, mtime in finished.items():  # finished jobs were not redone
        assert path.stat().st_mtime_ns == mtime, path
