"""Resuming after a crash needs only ``pzforge run`` again.

- One driver per working directory: ``pzforge run`` holds an exclusive lock on
  ``.pzforge/driver.lock`` while it runs (the kernel releases it when the process dies, however it
  dies); a second driver is refused with the first one's pid and run id.
- Snakemake's own lock (``.snakemake/locks``) left by a dead driver is released (``--unlock``)
  when no Snakemake process is working in that directory any more.
- Runs that started and never reached their end (killed, interrupted, the node lost) are recorded
  as ``interrupted`` with the jobs that did finish; their outputs stay for the resume to reuse.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from pzforge.errors import PipelineError
from pzforge.paths import RUNS_DIR

LOCK_FILE = Path(".pzforge") / "driver.lock"


@contextlib.contextmanager
def driver_lock(workdir: Path, run_id: str) -> Iterator[None]:
    """Hold the working directory's driver lock, or refuse clearly if a live driver holds it."""
    path = workdir / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise PipelineError(
            f"another pzforge run is working in {workdir} ({holder}); wait for it to end, or stop "
            "it, before starting another run here (or use another --workdir)"
        ) from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, run {run_id}\n")
        fh.flush()
        yield
    finally:
        fh.close()


def snakemake_alive_in(workdir: Path) -> list[int]:
    """Pids of live Snakemake processes whose working directory is ``workdir`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) == os.getpid():
                continue
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if not any(b"snakemake" in part for part in cmd[:3]):
                continue
            if Path(os.readlink(proc / "cwd")).resolve() == workdir.resolve():
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def release_stale_snakemake_lock(workdir: Path, unlock_cmd: list[str], env: dict) -> bool:
    """``snakemake --unlock`` when a dead driver left Snakemake's lock behind."""
    locks = workdir / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()):
        return False
    if snakemake_alive_in(workdir):
        raise PipelineError(
            f"Snakemake is running in {workdir} (pids {snakemake_alive_in(workdir)}); wait for it "
            "to end before starting another run here"
        )
    subprocess.run(unlock_cmd, cwd=workdir, env=env, capture_output=True, check=False)
    return True


def unfinished_runs(workdir: Path, *, current: str) -> list[str]:
    """Runs of this working directory that started but were never ingested (crashed drivers)."""
    out = []
    base = workdir / RUNS_DIR
    if not base.is_dir():
        return out
    for folder in sorted(base.iterdir(), key=lambda p: p.stat().st_mtime):
        if folder.name == current or not (folder / "run.json").is_file():
            continue
        if (folder / "ingested.json").is_file():
            continue
        out.append(folder.name)
    return out


def finish_unfinished(workdir: Path, run_id: str, fallback_config: dict[str, Any]) -> str:
    """Record a crashed run. If every job it planned had finished (the driver died after the
    last job, before registration), finish it: register its products. Otherwise record it as
    ``interrupted`` with the jobs that did finish. Returns the status recorded."""
    from pzforge.provenance.ingest import finish_run

    folder = workdir / RUNS_DIR / run_id
    plan = json.loads((folder / "run.json").read_text())
    config_file = folder / "config.yaml"
    config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else None
    if not config:
        config = dict(plan.get("config") or {})
        config["registry"] = fallback_config["registry"]  # the plan's copy is redacted
    done = set()
    for sidecar in (folder / "jobs").glob("*.json"):
        job = json.loads(sidecar.read_text())
        if job.get("status") == "success":
            done.add((job["rule"], tuple(job["output"])))
    planned = {(j["rule"], tuple(j["output"])) for j in plan.get("planned_jobs", [])}
    manifests = [workdir / m for m in plan.get("manifests", [])]
    complete = planned <= done and all(m.is_file() for m in manifests)
    status = "success" if complete else "interrupted"
    finish_run(config, status, run_id=run_id, workdir=workdir, manifests=None if complete else [])
    return status
