"""Provenance ingest on the submitting host: plan + job sidecars + benchmarks -> the registry.

``finish_run`` (Snakefile ``onsuccess``/``onerror``) opens the registry once, ingests the run's
records in one transaction and, on success, registers the products' manifests with the
checksums the jobs recorded.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pzforge.faults import checkpoint
from pzforge.io import read_json, write_json
from pzforge.paths import RunLayout, run_dir
from pzforge.provenance.diff import flatten
from pzforge.provenance.recording import describe_file, ensure_run_id, now
from pzforge.secrets import redact_text


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
    run_id: str, status: str, error: str | None = None, workdir: str | Path = "."
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Join the run plan, the job sidecars and benchmark files into records for the registry."""
    rdir = run_dir(run_id, workdir)
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
        benchmark = read_benchmark(
            Path(workdir) / plan_job["benchmark"] if plan_job.get("benchmark") else None
        )
        if not benchmark and sc.get("usage"):  # no benchmark file: the job's own measurement
            benchmark = dict(sc["usage"]) | {"measured_by": "job"}
        jobs.append(
            {k: v for k, v in sc.items() if k not in ("files", "output", "run_id", "usage")}
            | {
                "reason": plan_job.get("reason"),
                "code_hash": plan_job.get("code_hash"),
                "benchmark": benchmark,
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
        error = error or (
            "stopped before its end (interrupted or killed); `pzforge run` again resumes it"
            if status == "interrupted"
            else "the run failed"
        )
    error = redact_text(error) if error else error
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
    manifests: list[str] | None = None,
    logfile: str | list[str] | None = None,
    run_id: str | None = None,
    workdir: str | Path = ".",
) -> dict[str, Any]:
    """Ingest the run's provenance; on success register its products. Returns a summary.

    Called by the Snakefile's ``onsuccess``/``onerror`` and, when Snakemake could not (killed,
    interrupted, nothing left to do after an earlier crash), by ``pzforge run``. ``status``:
    success, failed or interrupted. A run that did not succeed removes its final outputs that no
    registration took (they would look finished); Snakemake makes them again on the next run.
    Idempotent: a run already ingested is ingested again to the same records.
    """
    from pzforge.products.registration import known_digests, register_manifests
    from pzforge.products.site import open_registry

    run_id = run_id or ensure_run_id()
    workdir = Path(workdir)
    plan_file = run_dir(run_id, workdir) / "run.json"
    plan = read_json(plan_file) if plan_file.is_file() else {}
    manifests = list(plan.get("manifests", []) if manifests is None else manifests)
    settings = config.get("registry", {})
    error = None if status == "success" else failure_text(logfile)
    run, jobs = collect_run(run_id, status, error, workdir)
    reg = open_registry(settings.get("url"), user=run.get("user"))
    explain_param_changes(reg, run, jobs)
    counts = reg.ingest_run(run, jobs)
    receipts: list[dict[str, Any]] = []
    layout = RunLayout(config["run_name"], workdir)
    if status == "success" and settings.get("register", True) and manifests:
        known = known_digests(
            f for j in jobs for f in j.get("files", []) if f["role"] == "generated"
        )
        files = [workdir / m for m in manifests]
        checkpoint("registration")
        try:
            receipts = register_manifests(
                reg, files, owner=run.get("user") or reg.user, run_id=run_id, known=known
            )
        except Exception as exc:
            reg.ingest_run(run | {"status": "failed", "error": f"registration failed: {exc}"})
            raise
        write_json(receipts, layout.receipts)
    elif status != "success":
        remove_unfinished_outputs(workdir, plan)
    summary = {"run_id": run_id, "status": status, **counts, "products": receipts}
    write_json(summary, run_dir(run_id, workdir) / "ingested.json")
    return summary


def remove_unfinished_outputs(workdir: Path, plan: dict[str, Any]) -> list[Path]:
    """A run that did not succeed leaves no final output (nor manifest) that looks finished."""
    import shutil

    removed = []
    for rel in [*plan.get("outputs", []), *plan.get("manifests", [])]:
        path = workdir / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed
