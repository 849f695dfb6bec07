"""Benchmark: the cost of recording provenance (not a test).

    .venv/bin/python tests/benchmarks/provenance.py [--jobs 1000] [--files 10000] [--total-gb 10]

Makes a run of JOBS jobs writing FILES files (TOTAL_GB in all) under a scratch directory, each
job taking the previous job's outputs as inputs. The jobs' own code path records them: the real
``JobRecorder`` hashes outputs (streaming sha256) and writes a sidecar, one process per core as
Snakemake would run jobs in parallel. Then the submitting host's ingest (``collect_run`` + the
registry's ``ingest_run`` into SQLite) is timed, twice (the second must change nothing). Prints:
hashing throughput in MB/s per core next to ``sha256sum`` on the same files, and ingest seconds
(target: under 10 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pzforge.io import write_json  # noqa: E402
from pzforge.paths import RUN_ID_ENV, run_dir  # noqa: E402
from pzforge.provenance.ingest import collect_run  # noqa: E402
from pzforge.provenance.recording import JobRecorder  # noqa: E402


class Wildcards(dict):
    """Snakemake's wildcards object: a mapping with .items()."""


def job_files(workdir: Path, job: int, per_job: int) -> list[str]:
    return [
        str(workdir / "results" / "bench" / f"job{job:05d}" / f"f{i:03d}.bin")
        for i in range(per_job)
    ]


def make_files(workdir: Path, jobs: int, per_job: int, size: int) -> None:
    block = os.urandom(size)
    for j in range(jobs):
        for k, path in enumerate(job_files(workdir, j, per_job)):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as fh:  # distinct bytes per file: a unique prefix
                fh.write(f"{j}:{k}:".encode().ljust(32, b"."))
                fh.write(block[32:])


def record_job(args: tuple[str, str, int, int]) -> float:
    """One job's end: what pzforge.workflow.jobs.snakemake_job does after the rule body succeeded."""
    workdir, run_id, job, per_job = args
    os.chdir(workdir)
    os.environ[RUN_ID_ENV] = run_id
    smk = SimpleNamespace(
        rule=f"step{job % 7}",
        input=job_files(Path(workdir), job - 1, per_job) if job else [],
        output=job_files(Path(workdir), job, per_job),
        wildcards=Wildcards(job=str(job)),
        params=Wildcards(radius=1.0),
        threads=1,
        resources=Wildcards(mem_mb=1000),
        log=[f"logs/bench/job{job}.log"],
    )
    t0 = time.perf_counter()
    JobRecorder(smk).write("success")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--total-gb", type=float, default=10.0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    per_job = max(1, args.files // args.jobs)
    n_files = per_job * args.jobs
    size = int(args.total_gb * 1e9 / n_files)
    cores = os.cpu_count() or 1
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="pzforge-provbench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    total_mb = n_files * size / 1e6
    print(f"jobs {args.jobs}, files {n_files}, {size / 1e6:.2f} MB each, {total_mb / 1e3:.2f} GB")
    try:
        t0 = time.perf_counter()
        make_files(workdir, args.jobs, per_job, size)
        print(f"wrote the files in {time.perf_counter() - t0:.1f} s")

        run_id = str(uuid.uuid4())
        planned = [
            {
                "rule": f"step{j % 7}",
                "wildcards": {"job": str(j)},
                "output": sorted(str(Path(p).resolve()) for p in job_files(workdir, j, per_job)),
                "reason": "Missing output files",
                "code_hash": "0" * 64,
                "log": [],
                "benchmark": None,
            }
            for j in range(args.jobs)
        ]
        os.chdir(workdir)
        write_json(
            {"id": run_id, "pipeline": "benchmark", "run_name": "bench", "config": {},
             "status": "running", "planned_jobs": planned},
            run_dir(run_id) / "run.json",
        )  # fmt: skip

        t0 = time.perf_counter()
        with ProcessPoolExecutor(cores) as pool:
            per_job_s = list(
                pool.map(record_job, [(str(workdir), run_id, j, per_job) for j in range(args.jobs)])
            )
        wall = time.perf_counter() - t0
        print(
            f"jobs hashing + sidecars: {wall:.1f} s wall on {cores} cores, "
            f"{total_mb / wall:.0f} MB/s total, {total_mb / sum(per_job_s):.0f} MB/s per core"
        )

        if shutil.which("sha256sum"):
            files = [p for j in range(args.jobs) for p in job_files(workdir, j, per_job)]
            t0 = time.perf_counter()
            subprocess.run(
                ["xargs", "-0", "-P", str(cores), "-n", "50", "sha256sum"],
                input="\0".join(files).encode(),
                stdout=subprocess.DEVNULL,
                check=True,
            )
            wall_ref = time.perf_counter() - t0
            print(
                f"sha256sum, same files: {wall_ref:.1f} s wall on {cores} cores, "
                f"{total_mb / wall_ref / cores:.0f} MB/s per core"
            )

        from registry import Registry

        reg = Registry.from_url(f"sqlite:///{workdir / 'registry.sqlite'}")
        for attempt in ("ingest", "ingest again"):
            t0 = time.perf_counter()
            run, jobs = collect_run(run_id, "success")
            t_collect = time.perf_counter() - t0
            counts = reg.ingest_run(run, jobs)
            t_all = time.perf_counter() - t0
            target = "OK" if t_all < 10 else "over the 10 s target"
            print(
                f"{attempt}: {t_all:.2f} s (read sidecars {t_collect:.2f} s) -> {counts} [{target}]"
            )
    finally:
        os.chdir(ROOT)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


if __name__ == "__main__":
    main()
