"""Benchmark: Combine Redshift Catalogs end to end on synthetic catalogs (not a test).

    .venv/bin/python tests/benchmarks/combine.py 1000000 [--workdir DIR] [--keep]

Generates N rows over 10 surveys (5 % duplicates, with small offsets, uniformly over the sky so
many straddle tile borders), runs the pipeline with profiles/local, and prints: rows, wall
seconds, rows/s, peak RSS of the whole process tree, the floor (read every input once and write
one Parquet file) and the ratio to it, and the duplicate stage against lsdb's bare self-crossmatch.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[2]
SURVEYS = {  # survey -> valid flag values (config/surveys.yaml)
    "2dFGRS": [1, 2, 3, 4, 5],
    "2dFLenS": [1, 2, 3, 4, 6],
    "6dFGS": [1, 2, 3, 4, 6],
    "OzDES": [1, 2, 3, 4, 6],
    "MOSDEF": [0, 1, 2, 3, 4, 5, 6, 7],
    "PRIMUS": [-1, 2, 3, 4],
    "VVDS": [0, 1, 2, 3, 4, 9, 12, 23],
    "VUDS": [0, 1, 2, 3, 4, 9, 14],
    "VANDELS": [0, 1, 2, 3, 4, 9],
    "zCOSMOS": [0, 1, 2, 3, 4, 9, 13],
}


def generate(n: int, out: Path, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    n_dup = int(0.05 * n)
    n_unique = n - n_dup
    ra = rng.uniform(0, 360, n_unique)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n_unique)))
    src = rng.integers(0, n_unique, n_dup)
    sep = rng.uniform(0, 0.9, n_dup) / 3600
    ang = rng.uniform(0, 2 * np.pi, n_dup)
    ra = np.concatenate(
        [
            ra,
            np.mod(
                ra[src] + sep * np.cos(ang) / np.maximum(np.cos(np.radians(dec[src])), 1e-3), 360
            ),
        ]
    )
    dec = np.concatenate([dec, np.clip(dec[src] + sep * np.sin(ang), -90, 90)])
    z = np.round(rng.gamma(2.0, 0.3, n), 5)
    survey_idx = rng.permutation(np.arange(n) % len(SURVEYS))
    catalogs = []
    for i, (survey, flags) in enumerate(SURVEYS.items()):
        sel = survey_idx == i
        k = int(sel.sum())
        df = pd.DataFrame(
            {
                "ID": np.arange(k, dtype=np.int64),
                "RA": ra[sel],
                "DEC": dec[sel],
                "Z": z[sel],
                "ZERR": np.round(rng.uniform(1e-4, 1e-2, k), 6),
                "FLAG": rng.choice(flags, k),
            }
        )
        path = out / f"{survey.lower()}.parquet"
        df.to_parquet(path, index=False)
        catalogs.append(
            {
                "name": survey.lower(),
                "path": str(path),
                "survey": {"value": survey},
                "columns": {
                    "id": "ID",
                    "ra": "RA",
                    "dec": "DEC",
                    "z": "Z",
                    "z_err": "ZERR",
                    "z_flag": "FLAG",
                },
            }
        )
    return catalogs


class PeakRSS(threading.Thread):
    """Samples the summed RSS of a process and all its children."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                break
            time.sleep(0.1)


def run_pipeline(pipeline: str, work: Path, profile: Path | None = None) -> tuple[float, int]:
    """``pzforge run PIPELINE -c work/config.yaml`` in ``work``: wall seconds, peak tree RSS
    (``profile``: a profile folder instead of profiles/local)."""
    cmd = [str(Path(sys.executable).parent / "pzforge"), "run", pipeline]
    cmd += ["-c", str(work / "config.yaml"), "-w", str(work)]
    cmd += ["--profile", str(profile)] if profile else []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = PeakRSS(proc.pid)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    sampler.stop.set()
    if proc.returncode != 0:
        print(output)
        raise SystemExit("pipeline failed")
    return wall, sampler.peak


def floor_seconds(catalogs: list[dict], out: Path) -> float:
    start = time.perf_counter()
    with pq.ParquetWriter(
        out, pq.read_schema(catalogs[0]["path"]), compression="zstd", compression_level=3
    ) as w:
        for cat in catalogs:
            w.write_table(pq.read_table(cat["path"]))
    return time.perf_counter() - start


def bare_self_crossmatch(catalog_dir: Path, margin_dir: Path) -> float:
    import dask
    import lsdb

    start = time.perf_counter()
    left = lsdb.open_catalog(str(catalog_dir), columns=["id", "ra", "dec"])
    right = lsdb.open_catalog(
        str(catalog_dir), columns=["id", "ra", "dec"], margin_cache=str(margin_dir)
    )
    xm = left.crossmatch(
        right, n_neighbors=2, radius_arcsec=1.0, suffixes=("_a", "_b"), suffix_method="all_columns"
    )
    with dask.config.set(scheduler="threads"):
        xm.compute(progress_bar=False)
    return time.perf_counter() - start


def rule_seconds(bench_dir: Path) -> dict[str, float]:
    return {rule: figures["s"] for rule, figures in rule_figures(bench_dir).items()}


def rule_figures(bench_dir: Path) -> dict[str, dict[str, float]]:
    """Per rule, from Snakemake's benchmark files: job seconds and CPU seconds summed over its
    jobs, the largest max_rss (MB) of one of its jobs, and the number of jobs."""
    out: dict[str, dict[str, float]] = {}
    for tsv in bench_dir.rglob("*.tsv"):
        with open(tsv) as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        fig = out.setdefault(tsv.parent.name, {"s": 0.0, "cpu": 0.0, "rss": 0.0, "jobs": 0})
        fig["s"] += float(row["s"])
        fig["cpu"] += float(row["cpu_time"]) if row["cpu_time"] not in ("", "NA") else 0.0
        fig["rss"] = max(fig["rss"], float(row["max_rss"]) if row["max_rss"] != "NA" else 0.0)
        fig["jobs"] += 1
    return out


def job_windows(work: Path) -> dict[str, tuple[datetime, datetime]]:
    """Per rule, the first start and the last end recorded by the jobs' provenance sidecars."""
    out: dict[str, tuple[datetime, datetime]] = {}
    for sidecar in (work / ".pzforge" / "runs").glob("*/jobs/*.json"):
        job = json.loads(sidecar.read_text())
        start = datetime.fromisoformat(job["started_at"])
        end = datetime.fromisoformat(job["ended_at"])
        if job["rule"] in out:
            start, end = min(start, out[job["rule"]][0]), max(end, out[job["rule"]][1])
        out[job["rule"]] = (start, end)
    return out


def seconds_after(work: Path, rule: str) -> float:
    """Wall seconds from the end of ``rule``'s last job to the end of the run's last job
    (process starts and Snakemake's scheduling included)."""
    windows = job_windows(work)
    last = max(end for _, end in windows.values())
    return (last - windows[rule][1]).total_seconds()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-bare", action="store_true", help="skip lsdb's bare self-crossmatch")
    ap.add_argument(
        "--no-qa", action="store_true", help="no QA report (qa.enabled: false; as before issue 15)"
    )
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pzbench-"))
    for sub in ("results", "logs", "benchmarks", ".pzforge", ".snakemake"):
        shutil.rmtree(work / sub, ignore_errors=True)  # a reused workdir: run every job again
    (work / "data").mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    catalogs = generate(args.rows, work / "data")
    print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f} s")
    config = {"run_name": "bench", "catalogs": catalogs, "registry": {"register": False}}
    if args.no_qa:
        config["qa"] = {"enabled": False}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    wall, peak = run_pipeline("combine_redshift", work)
    floor = floor_seconds(catalogs, work / "floor.parquet")
    figures = rule_figures(work / "benchmarks" / "bench")
    rules = {rule: fig["s"] for rule, fig in figures.items()}
    dup = rules.get("find_duplicates", 0) + rules.get("resolve_duplicates", 0)
    bare = float("nan")
    if not args.no_bare:
        bare = bare_self_crossmatch(
            work / "results/bench/hats/input/catalog", work / "results/bench/hats/input/margin"
        )
    print(f"rows                 {args.rows:,}")
    print(f"wall seconds         {wall:.1f}")
    print(f"rows/s               {args.rows / wall:,.0f}")
    print(f"peak RSS (tree)      {peak / 2**30:.2f} GiB")
    print(f"floor seconds        {floor:.1f}  (read inputs once + write one Parquet)")
    print(f"ratio to floor       {wall / floor:.1f}x")
    print("  rule                       jobs    job s    CPU s  max RSS of a job")
    for rule, fig in sorted(figures.items()):
        print(
            f"  {rule:<26} {fig['jobs']:4d} {fig['s']:8.1f} {fig['cpu']:8.1f}"
            f"  {fig['rss'] / 1024:.2f} GiB"
        )
    print(f"duplicate stage      {dup:.1f} s (find + resolve)")
    print(f"lsdb bare self-xmatch {bare:.1f} s  -> ratio {dup / bare:.2f}x")
    combined = work / "results" / "bench" / "combined" / "bench.parquet"
    print(f"combined sha256      {hashlib.sha256(combined.read_bytes()).hexdigest()}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
