"""Provenance collection: run plans from the Snakemake DAG, job sidecars, one ingest at the end.

- ``record_run_start`` (Snakefile ``onstart``, submitting host): the run's config, git state,
  software versions, and every job Snakemake is about to run with the reason it runs.
- ``JobRecorder`` (inside every job, see ``pzforge.jobs.snakemake_job``): start/end, status,
  params, resources, host/SLURM ids, and the sha256 of its outputs (and of inputs from outside
  the run's results) while the data are hot, written as a JSON sidecar with an atomic rename.
- ``finish_run`` (``onsuccess``/``onerror``): joins plan, sidecars and benchmark files and ingests
  them into the registry in one transaction; on success registers the products' manifests.

Compute jobs never open the database; only the submitting host writes it.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import logging
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pzforge.jobs import read_json, write_json

log = logging.getLogger(__name__)

RUNS_DIR = Path(".pzforge") / "runs"
RUN_ID_ENV = "PZFORGE_RUN_ID"
PACKAGES = (
    "pzforge",
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "lsdb",
    "hats",
    "hats-import",
    "nested-pandas",
    "dask",
    "distributed",
    "dask-jobqueue",
    "pandas",
    "numpy",
    "pyarrow",
    "astropy",
    "scipy",
    "scikit-learn",
    "umap-learn",
    "matplotlib",
    "SQLAlchemy",
    "prov",
    "rocrate",
)


def now() -> str:
    return datetime.now(UTC).isoformat()


def ensure_run_id() -> str:
    """The run's UUID: given by ``pzforge run``, else made once by the Snakemake main process.

    Set in the environment so local jobs and SLURM jobs (sbatch exports the environment) see it.
    """
    return os.environ.setdefault(RUN_ID_ENV, str(uuid.uuid4()))


def run_dir(run_id: str, workdir: str | Path = ".") -> Path:
    return Path(workdir) / RUNS_DIR / run_id


def describe_file(path: str | Path, *, checksum: bool = True) -> dict[str, Any]:
    """Path, size, kind and (when asked) sha256 of a file, or member hashes + digest of a dir."""
    from registry import hashing

    p = Path(path)
    entry: dict[str, Any] = {"path": str(p.resolve())}
    if p.is_dir():
        members = hashing.collection_members(p) if checksum else []
        entry |= {"kind": "collection", "size": sum(m.size for m in members)}
        if checksum:
            entry["members"] = [[m.relpath, m.size, m.checksum] for m in members]
            entry["checksum"] = hashing.collection_digest(members)
    elif p.is_file():
        st = p.stat()
        entry |= {"kind": "file", "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        if checksum:
            entry["checksum"] = hashing.sha256_file(p)
    else:
        entry |= {"kind": "missing", "size": 0}
    return entry


def software_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def git_state(root: str | Path) -> dict[str, Any]:
    """Commit of the workflow's checkout, whether it is dirty, and a hash of the diff."""

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None, "git_diff_sha256": None}
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    diff = git("diff", "HEAD") or ""
    dirty = bool(status.strip())
    return {
        "git_commit": commit.strip(),
        "git_dirty": dirty,
        "git_diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if dirty else None,
    }


def rule_code_hash(rule: Any) -> str:
    """sha256 of the rule's definition in its .smk file plus its script's bytes.

    Snakemake's own code hash covers ``run:``/``shell:`` bodies, not ``script:`` files, so a
    changed script would go unnoticed; this hash covers both.
    """
    h = hashlib.sha256()
    try:
        lines = Path(rule.snakefile).read_text().splitlines()
        start = rule.lineno - 1
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][:1] in " \t#"):
            end += 1
        h.update("\n".join(lines[start:end]).encode())
    except (OSError, TypeError):
        h.update(rule.name.encode())
    script = getattr(rule, "script", None)
    if script:
        path = Path(script)
        if not path.is_absolute():
            path = Path(rule.snakefile).parent / path
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def _profile_from_argv(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg in ("--profile", "--workflow-profile") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--profile="):
            return arg.split("=", 1)[1]
    return None


def record_run_start(workflow: Any, config: dict[str, Any], pipeline: str) -> Path:
    """Write ``.pzforge/runs/<id>/run.json``: the run and the jobs the DAG will run, with why."""
    from pzforge.config import PROJECT_ROOT

    run_id = ensure_run_id()
    rdir = run_dir(run_id)
    overrides_file = rdir / "overrides.yaml"
    overrides: list[str] = []
    if overrides_file.is_file():
        import yaml

        overrides = yaml.safe_load(overrides_file.read_text()) or []
    dag = workflow.dag
    jobs = []
    for job in sorted(dag.needrun_jobs(), key=lambda j: (j.rule.name, sorted(map(str, j.output)))):
        jobs.append(
            {
                "rule": job.rule.name,
                "wildcards": dict(job.wildcards_dict),
                "output": sorted(str(Path(o).resolve()) for o in job.output),
                "reason": str(dag.reason(job)),
                "benchmark": str(job.benchmark) if job.benchmark else None,
                "log": [str(x) for x in job.log],
                "code_hash": rule_code_hash(job.rule),
            }
        )
    plugin = getattr(workflow, "executor_plugin", None)
    plan = {
        "id": run_id,
        "pipeline": pipeline,
        "run_name": config.get("run_name", ""),
        "config": _jsonable(dict(config)),
        "overrides": overrides,
        **git_state(PROJECT_ROOT),
        "software": software_versions(),
        "profile": os.environ.get("PZFORGE_PROFILE") or _profile_from_argv(sys.argv),
        "executor": getattr(plugin, "name", None),
        "user": os.environ.get("PZFORGE_USER") or getpass.getuser(),
        "host": socket.gethostname(),
        "workdir": str(Path.cwd()),
        "started_at": now(),
        "status": "running",
        "planned_jobs": jobs,
    }
    write_json(plan, rdir / "run.json")
    return rdir


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


class JobRecorder:
    """Collects one job's provenance and writes its sidecar (never touches the database)."""

    def __init__(self, snakemake: Any) -> None:
        self.smk = snakemake
        self.id = str(uuid.uuid4())
        self.run_id = os.environ.get(RUN_ID_ENV)
        self.started_at = now()

    def write(self, status: str, error: str | None = None) -> Path | None:
        if not self.run_id:
            return None
        smk = self.smk
        results = (Path.cwd() / "results").resolve()
        files = []
        for path in smk.input:
            inside = Path(path).resolve().is_relative_to(results)
            # Inputs made by earlier jobs are hashed by those jobs; the ingest fills them in.
            files.append(describe_file(path, checksum=not inside) | {"role": "used"})
        if status == "success":
            files += [describe_file(p) | {"role": "generated"} for p in smk.output]
        record = {
            "id": self.id,
            "run_id": self.run_id,
            "rule": smk.rule,
            "wildcards": dict(smk.wildcards.items()),
            "params": _jsonable(dict(smk.params.items())),
            "threads": smk.threads,
            "resources": _jsonable(
                {k: v for k, v in smk.resources.items() if not k.startswith("_")}
            ),
            "output": sorted(str(Path(o).resolve()) for o in smk.output),
            "log": [str(x) for x in smk.log],
            "status": status,
            "error": error,
            "host": socket.gethostname(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "node": os.environ.get("SLURMD_NODENAME"),
            "started_at": self.started_at,
            "ended_at": now(),
            "files": files,
        }
        path = run_dir(self.run_id) / "jobs" / f"{self.id}.json"
        write_json(record, path)
        return path


# --- ingest (submitting host) --------------------------------------------------------------


def read_benchmark(path: str | Path | None) -> dict[str, Any]:
    """Snakemake's benchmark TSV -> wall seconds, max RSS (MB), CPU time (s)."""
    if not path or not Path(path).is_file():
        return {}
    lines = Path(path).read_text().strip().splitlines()
    if len(lines) < 2:
        return {}
    head, values = lines[0].split("\t"), lines[-1].split("\t")
    row = dict(zip(head, values, strict=False))

    def num(key: str) -> float | None:
        try:
            return float(row[key])
        except (KeyError, ValueError):
            return None

    return {
        "wall_s": num("s"),
        "max_rss_mb": num("max_rss"),
        "max_uss_mb": num("max_uss"),
        "cpu_time_s": num("cpu_time"),
        "mean_load": num("mean_load"),
    }


def collect_run(
    run_id: str, status: str, error: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Join the run plan, the job sidecars and benchmark files into records for the registry."""
    rdir = run_dir(run_id)
    plan = read_json(rdir / "run.json") if (rdir / "run.json").is_file() else {"id": run_id}
    planned = {(p["rule"], tuple(p["output"])): p for p in plan.get("planned_jobs", [])}
    sidecars = [read_json(p) for p in sorted((rdir / "jobs").glob("*.json"))]
    produced = {
        f["path"]: f
        for sc in sidecars
        for f in sc["files"]
        if f["role"] == "generated" and "checksum" in f
    }
    jobs = []
    seen = set()
    for sc in sidecars:
        key = (sc["rule"], tuple(sc["output"]))
        seen.add(key)
        plan_job = planned.get(key, {})
        files = []
        for f in sc["files"]:
            if "checksum" not in f:
                known = produced.get(f["path"])
                f = (known | {"role": f["role"]}) if known else _hash_now(f)
            if f["kind"] != "missing":
                files.append(f)
        jobs.append(
            {k: v for k, v in sc.items() if k not in ("files", "output", "run_id")}
            | {
                "reason": plan_job.get("reason"),
                "code_hash": plan_job.get("code_hash"),
                "benchmark": read_benchmark(plan_job.get("benchmark")),
                "files": files,
            }
        )
    if status != "success":
        for key, p in sorted(planned.items()):
            if key not in seen:  # planned but never finished (failed hard, or never started)
                jobs.append(
                    {
                        "id": str(uuid.uuid5(uuid.UUID(run_id), repr(key))),
                        "rule": p["rule"],
                        "wildcards": p["wildcards"],
                        "status": "incomplete",
                        "reason": p["reason"],
                        "code_hash": p["code_hash"],
                        "log": p["log"],
                        "files": [],
                    }
                )
    failed = [j for j in jobs if j["status"] == "failed" and j.get("error")]
    if status != "success":  # the jobs' own one-line errors say more than Snakemake's block
        error = "; ".join(f"rule {j['rule']}: {j['error']}" for j in failed) or error
        error = error or "the run failed"
    run = {k: v for k, v in plan.items() if k != "planned_jobs"} | {
        "id": run_id,
        "status": status,
        "error": error,
        "ended_at": now(),
    }
    run.setdefault(
        "started_at", min((j["started_at"] for j in jobs if j.get("started_at")), default=now())
    )
    return run, jobs


def explain_param_changes(reg: Any, run: dict[str, Any], jobs: list[dict[str, Any]]) -> None:
    """Snakemake says *that* params changed; name *which*, from the job's last recorded run."""
    from pzforge.provenance_diff import flatten

    for job in jobs:
        if "Params have changed" not in (job.get("reason") or ""):
            continue
        last = reg.last_job(
            job["rule"], job.get("wildcards") or {}, run.get("run_name", ""), run.get("workdir", "")
        )
        if not last:
            continue
        before, after = flatten(last["params"] or {}), flatten(job.get("params") or {})
        changes = [
            f"{k}: {before.get(k)!r} -> {after.get(k)!r}"
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)
        ]
        if changes:
            job["reason"] += f" [changed params: {'; '.join(changes)}]"


def _hash_now(f: dict[str, Any]) -> dict[str, Any]:
    """An input no job of this run hashed (made by an earlier run): hash it at ingest."""
    if not Path(f["path"]).exists():
        return f | {"kind": "missing"}
    return describe_file(f["path"]) | {"role": f["role"]}


def failure_text(logfile: str | list[str] | None) -> str | None:
    """The first 'Error in rule' block of the Snakemake log, for a run that failed.

    Snakemake hands ``onerror`` its log as a path or as a list of paths (9.x)."""
    if isinstance(logfile, (list, tuple)):
        logfile = next((f for f in logfile if Path(f).is_file()), None)
    if not logfile or not Path(logfile).is_file():
        return None
    lines = Path(logfile).read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Error in rule"):
            return " ".join(x.strip() for x in lines[i : i + 6])
    return None


def finish_run(
    config: dict[str, Any],
    status: str,
    *,
    manifests: list[str] = (),
    logfile: str | list[str] | None = None,
) -> dict[str, Any]:
    """Ingest the run's provenance; on success register its products. Returns a summary."""
    from pzforge.register import register_manifests
    from registry import Registry

    run_id = ensure_run_id()
    settings = config.get("registry", {})
    error = None if status == "success" else failure_text(logfile)
    run, jobs = collect_run(run_id, status, error)
    reg = Registry.from_url(settings.get("url"))
    explain_param_changes(reg, run, jobs)
    counts = reg.ingest_run(run, jobs)
    receipts: list[dict[str, Any]] = []
    if status == "success" and settings.get("register", True) and manifests:
        try:
            receipts = register_manifests(list(manifests), settings, run_id=run_id)
        except Exception as exc:
            reg.ingest_run(run | {"status": "failed", "error": f"registration failed: {exc}"})
            raise
        write_json(receipts, Path("results") / config["run_name"] / "registry" / "products.json")
    summary = {"run_id": run_id, "status": status, **counts, "products": receipts}
    write_json(summary, run_dir(run_id) / "ingested.json")
    return summary
