"""Provenance recording: the run's plan from the Snakemake DAG, and one sidecar per job.

- ``record_run_start`` (Snakefile ``onstart``, submitting host): the run's config, git state,
  software versions, and every job Snakemake is about to run with the reason it runs.
- ``JobRecorder`` (inside every job, see ``pzforge.workflow.jobs.snakemake_job``): start/end,
  status, params, resources, host/SLURM ids, and the sha256 of its outputs (and of inputs from
  outside the run's results) while the data are hot, written as a JSON sidecar (atomic rename).

Compute jobs never open the database; ``pzforge.provenance.ingest`` reads these files on the
submitting host at the end of the run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import pwd
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pzforge.io import write_json
from pzforge.paths import PROJECT_ROOT, RUN_ID_ENV, ensure_run_id, results_root, run_dir
from pzforge.secrets import redact, redact_text

log = logging.getLogger(__name__)

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


def describe_file(path: str | Path, *, checksum: bool = True) -> dict[str, Any]:
    """Path, size, kind and (when asked) sha256 of a file, or member hashes + digest of a dir."""
    from registry import hashing

    p = Path(path)
    entry: dict[str, Any] = {"path": str(p.resolve())}
    if p.is_dir():
        members = hashing.collection_members(p) if checksum else []
        entry |= {"kind": "collection", "size": sum(m.size for m in members)}
        if checksum:
            entry["members"] = [[m.relpath, m.size, m.checksum, m.mtime_ns] for m in members]
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


def record_run_start(
    workflow: Any,
    config: dict[str, Any],
    pipeline: str,
    manifests: list[str] = (),
    outputs: list[str] = (),
) -> Path:
    """Write ``.pzforge/runs/<id>/run.json``: the run, the jobs the DAG will run (with why), the
    manifests it will register and its final outputs (what finishing an interrupted run needs)."""
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
        "config": redact(jsonable(dict(config))),
        "overrides": [redact_text(str(o)) for o in overrides],
        **git_state(PROJECT_ROOT),
        "software": software_versions(),
        "profile": os.environ.get("PZFORGE_PROFILE") or _profile_from_argv(sys.argv),
        "executor": getattr(plugin, "name", None),
        "user": run_user(rdir),
        "host": socket.gethostname(),
        "workdir": str(Path.cwd()),
        "started_at": now(),
        "status": "running",
        "pid": os.getpid(),
        "manifests": [str(m) for m in manifests],
        "outputs": [str(o) for o in outputs],
        "planned_jobs": jobs,
        "dag": dag_record(dag),
    }
    write_json(plan, rdir / "run.json")
    return rdir


def dag_record(dag: Any) -> dict[str, Any]:
    """Every job of the DAG, run or not (up to date: made by an earlier run), and its edges.

    ``jobs``: rule, wildcards, outputs and ``needrun``; ``edges``: [dependency, job] index pairs.
    What the provenance report draws (a job list of one run cannot show what an earlier attempt
    did)."""
    jobs = sorted(dag.jobs, key=lambda j: (j.rule.name, sorted(map(str, j.output))))
    index = {job: i for i, job in enumerate(jobs)}
    edges = sorted(
        (index[dep], index[job])
        for job in jobs
        for dep in dag.dependencies.get(job, {})
        if dep in index
    )
    return {
        "jobs": [
            {
                "rule": job.rule.name,
                "wildcards": dict(job.wildcards_dict),
                "output": sorted(str(Path(o).resolve()) for o in job.output),
                "needrun": bool(dag.needrun(job)),
            }
            for job in jobs
        ],
        "edges": [list(e) for e in edges],
    }


def job_usage() -> dict[str, float]:
    """What the job's own process used since it started (as Snakemake's benchmark counts it):
    wall seconds, peak RSS in MB and CPU seconds (its own and its finished children's). Measured
    without a benchmark file, so every job that ran has figures."""
    import resource

    import psutil

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": round(time.time() - psutil.Process().create_time(), 3),
        "max_rss_mb": round(max(me.ru_maxrss, kids.ru_maxrss) / 1024, 1),  # Linux: kB
        "cpu_time_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 3),
    }


def run_user(folder: Path) -> str:
    """Who the run is for: written with the run by whoever started it (the CLI: the OS user; the
    server's worker: the requesting user), else the OS account running Snakemake."""
    given = folder / "user.txt"
    if given.is_file() and given.read_text().strip():
        return given.read_text().strip()
    return pwd.getpwuid(os.getuid()).pw_name


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (what a sidecar or the registry stores)."""
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
        results = results_root(Path.cwd()).resolve()
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
            "params": redact(jsonable(dict(smk.params.items()))),
            "threads": smk.threads,
            "resources": jsonable(
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
            "usage": job_usage(),
            "files": files,
        }
        path = run_dir(self.run_id) / "jobs" / f"{self.id}.json"
        write_json(record, path)
        return path
