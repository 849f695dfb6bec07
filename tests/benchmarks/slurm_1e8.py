"""Benchmark: Combine Redshift Catalogs on SLURM end to end, 10^8 rows by default (not a test).

    .venv/bin/python tests/benchmarks/slurm_1e8.py [ROWS] --workdir DIR [--rows-per-file N]
        [--dask-jobs 2] [--dask-memory 4GB] [--queue debug] [--interface lo] [--sample 50]

Writes ROWS synthetic rows (10 surveys, 5 % duplicates within 0.9 arcsec, uniform over the sky)
as Parquet files of at most ``--rows-per-file`` rows, one catalog entry per file (a big survey
is given as several files: one ingest job and one hats-import task each), then runs
``pzforge run combine_redshift --profile slurm`` with the Dask workers of the heavy rules as
dask-jobqueue SLURM jobs (``dask.cluster: slurm``). DIR must be on a filesystem every node sees.

Prints: wall seconds and rows/s; per rule, its wall window (first job start to last job end,
from the jobs' provenance sidecars), job seconds, and the largest max RSS of one of its jobs
(Snakemake benchmark files); the largest RSS of each Dask worker process (sampled on this
host, so complete only when the SLURM nodes are this machine, as in the test cluster); the
peak RSS of the driver (``pzforge run`` and Snakemake). Then checks the output: its row count
equals the input's, and for ``--sample`` rows (half drawn among the rows in a group, half among
all rows), a brute-force scan of the whole output finds the neighbours within the radius: every
neighbour must be in the row's group, and a row without neighbour in no group.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from combine import SURVEYS, rule_figures  # noqa: E402

RADIUS_ARCSEC = 1.0


def generate(rows: int, out: Path, rows_per_file: int, seed: int = 8) -> list[dict]:
    """Chunk by chunk (bounded memory): each chunk's rows, 5 % of them offset copies of others
    of the same chunk, are dealt at random to the 10 surveys' files of that chunk."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(SURVEYS)
    chunk = rows_per_file * len(names)
    catalogs: list[dict] = []
    next_id = np.zeros(len(names), dtype=np.int64)
    for k, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        n_dup = int(0.05 * n)
        n_unique = n - n_dup
        ra = rng.uniform(0, 360, n_unique)
        dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n_unique)))
        src = rng.integers(0, n_unique, n_dup)
        sep = rng.uniform(0, 0.9, n_dup) / 3600
        ang = rng.uniform(0, 2 * np.pi, n_dup)
        cos = np.maximum(np.cos(np.radians(dec[src])), 1e-3)
        ra = np.concatenate([ra, np.mod(ra[src] + sep * np.cos(ang) / cos, 360)])
        dec = np.concatenate([dec, np.clip(dec[src] + sep * np.sin(ang), -90, 90)])
        survey = rng.integers(0, len(names), n)
        z = np.round(rng.gamma(2.0, 0.3, n), 5)
        for i, name in enumerate(names):
            sel = survey == i
            m = int(sel.sum())
            if m == 0:
                continue
            flags = SURVEYS[name]
            df = pd.DataFrame(
                {
                    "ID": next_id[i] + np.arange(m, dtype=np.int64),
                    "RA": ra[sel],
                    "DEC": dec[sel],
                    "Z": z[sel],
                    "ZERR": np.round(rng.uniform(1e-4, 1e-2, m), 6),
                    "FLAG": rng.choice(flags, m),
                }
            )
            next_id[i] += m
            path = out / f"{name.lower()}_{k:04d}.parquet"
            df.to_parquet(path, index=False)
            catalogs.append(
                {
                    "name": f"{name.lower()}_{k:04d}",
                    "path": str(path),
                    "survey": {"value": name},
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


class Sampler(threading.Thread):
    """Every 0.5 s: the summed RSS of the driver's process tree, and each Dask worker's RSS."""

    def __init__(self, driver: int):
        super().__init__(daemon=True)
        self.driver = psutil.Process(driver)
        self.driver_peak = 0
        self.workers: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [self.driver, *self.driver.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            self.driver_peak = max(self.driver_peak, total)
            for p in psutil.process_iter(["pid", "cmdline"]):
                cmd = " ".join(p.info["cmdline"] or [])
                if "distributed.cli.dask_worker" in cmd or "dask-worker" in cmd:
                    with contextlib.suppress(psutil.Error):  # the nanny and its worker process
                        rss = sum(q.memory_info().rss for q in [p, *p.children(recursive=True)])
                        self.workers[p.pid] = max(self.workers.get(p.pid, 0), rss)
            time.sleep(0.5)


def rule_windows(work: Path) -> dict[str, tuple[datetime, datetime]]:
    out: dict[str, tuple[datetime, datetime]] = {}
    for sidecar in (work / ".pzforge" / "runs").glob("*/jobs/*.json"):
        job = json.loads(sidecar.read_text())
        start = datetime.fromisoformat(job["started_at"])
        end = datetime.fromisoformat(job["ended_at"])
        rule = job["rule"]
        if rule in out:
            start, end = min(start, out[rule][0]), max(end, out[rule][1])
        out[rule] = (start, end)
    return out


def unit(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    r, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=1)


def check_output(parquet: Path, rows: int, n_sample: int, seed: int = 3) -> None:
    """Row count, then a brute-force neighbour scan of the whole file for a sample of rows."""
    pf = pq.ParquetFile(parquet)
    got = pf.metadata.num_rows
    print(f"output rows          {got:,} (input {rows:,}) -> {'OK' if got == rows else 'MISMATCH'}")
    rng = np.random.default_rng(seed)
    cols = ["id", "ra", "dec", "group_id"]
    grouped = np.flatnonzero(pf.read(columns=["group_id"]).column(0).is_valid().to_numpy(False))
    picks = np.concatenate(  # half among grouped rows, half among all rows
        [
            rng.choice(grouped, min(n_sample // 2, len(grouped)), replace=False),
            rng.choice(got, min(n_sample - n_sample // 2, got), replace=False),
        ]
    )
    picks = np.unique(picks)
    sample = pf.read(columns=cols).take(picks).to_pandas()
    s_vec = unit(sample["ra"].to_numpy(), sample["dec"].to_numpy())
    chord = 2 * np.sin(np.radians(RADIUS_ARCSEC / 3600) / 2)
    margin = RADIUS_ARCSEC / 3600
    neighbours: list[list[tuple[str, object]]] = [[] for _ in range(len(sample))]
    s_dec = sample["dec"].to_numpy()
    for batch in pf.iter_batches(batch_size=2_000_000, columns=cols):
        b = batch.to_pandas()
        dec = b["dec"].to_numpy()
        order = np.argsort(dec, kind="stable")
        sorted_dec = dec[order]
        lo = np.searchsorted(sorted_dec, s_dec - margin, side="left")
        hi = np.searchsorted(sorted_dec, s_dec + margin, side="right")
        for j in range(len(sample)):
            cand = order[lo[j] : hi[j]]
            if len(cand) == 0:
                continue
            vec = unit(b["ra"].to_numpy()[cand], dec[cand])
            near = cand[np.linalg.norm(vec - s_vec[j], axis=1) <= chord]
            for row in near:
                if b["id"].iat[row] != sample["id"].iat[j]:
                    neighbours[j].append((b["id"].iat[row], b["group_id"].iat[row]))
    bad = 0
    for j in range(len(sample)):
        group = sample["group_id"].iat[j]
        if not neighbours[j]:
            bad += int(pd.notna(group))
        else:
            bad += int(pd.isna(group) or any(g != group for _id, g in neighbours[j]))
    with_nb = sum(1 for nb in neighbours if nb)
    print(
        f"brute-force sample   {len(sample)} rows ({with_nb} with neighbours within "
        f"{RADIUS_ARCSEC} arcsec): {bad} disagreements -> {'OK' if bad == 0 else 'MISMATCH'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int, nargs="?", default=100_000_000)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--rows-per-file", type=int, default=1_000_000)
    ap.add_argument("--dask-jobs", type=int, default=2)
    ap.add_argument("--dask-memory", default="4GB")
    ap.add_argument("--queue", default="debug")
    ap.add_argument("--interface", default="lo")
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--reuse-data", action="store_true", help="keep DIR/data if it is there")
    args = ap.parse_args()
    work = args.workdir.resolve()
    import shutil

    for sub in ("results", "logs", "benchmarks", ".pzforge", ".snakemake"):
        shutil.rmtree(work / sub, ignore_errors=True)
    started = time.perf_counter()
    listing = work / "catalogs.yaml"
    if args.reuse_data and listing.is_file():
        catalogs = yaml.safe_load(listing.read_text())
    else:
        shutil.rmtree(work / "data", ignore_errors=True)
        catalogs = generate(args.rows, work / "data", args.rows_per_file)
        listing.write_text(yaml.safe_dump(catalogs))
    print(f"inputs               {len(catalogs)} files in {time.perf_counter() - started:.1f} s")
    config = {
        "run_name": "bench",
        "catalogs": catalogs,
        "registry": {"register": False},
        "output": {"formats": ["parquet"]},
        "qa": {"enabled": False},
        "partition": {"pixel_threshold": 1_000_000, "highest_healpix_order": 8},
        "dask": {
            "cluster": "slurm",
            "jobs": args.dask_jobs,
            "cores": 1,
            "processes": 1,
            "memory": args.dask_memory,
            "queue": args.queue,
            "interface": args.interface,
            "walltime": "04:00:00",
            "worker_timeout_s": 300,
        },
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [str(Path(sys.executable).parent / "pzforge"), "run", "combine_redshift"]
    cmd += ["-c", str(work / "config.yaml"), "-w", str(work), "--profile", "slurm"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = Sampler(proc.pid)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    sampler.stop.set()
    (work / "driver.log").write_text(output)
    if proc.returncode != 0:
        print(output[-5000:])
        raise SystemExit("pipeline failed (driver.log)")
    print(f"rows                 {args.rows:,}")
    print(f"wall seconds         {wall:.1f}  ({args.rows / wall:,.0f} rows/s)")
    figures = rule_figures(work / "benchmarks" / "bench")
    windows = rule_windows(work)
    t0 = min(s for s, _ in windows.values())
    print("  rule                        window (s from first job)  jobs   job s  max RSS of a job")
    for rule, (s, e) in sorted(windows.items(), key=lambda kv: kv[1][0]):
        fig = figures.get(rule) or figures.get(rule.rsplit("_", 1)[0]) or {}
        rss = f"{fig['rss'] / 1024:.2f} GiB" if fig else "-"
        print(
            f"  {rule:<27} {(s - t0).total_seconds():7.1f} -> {(e - t0).total_seconds():7.1f}"
            f"        {int(fig.get('jobs', 0)):4d} {fig.get('s', 0):7.1f}  {rss}"
        )
    workers = sorted(sampler.workers.values(), reverse=True)
    shown = ", ".join(f"{w / 2**30:.2f}" for w in workers[:8])
    print(
        f"Dask workers seen    {len(workers)}; max RSS each, nanny + worker (GiB): {shown or '-'}"
    )
    print(f"driver peak RSS      {sampler.driver_peak / 2**30:.2f} GiB (pzforge run + Snakemake)")
    check_output(work / "results" / "bench" / "combined" / "bench.parquet", args.rows, args.sample)


if __name__ == "__main__":
    main()
