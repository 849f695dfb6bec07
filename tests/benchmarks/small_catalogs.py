"""Benchmark: many small catalogs, where start-up and per-job costs are the work (not a test).

    .venv/bin/python tests/benchmarks/small_catalogs.py [--workdir DIR] [--keep] [--repeat N]

Writes 19 catalogs of 200-2,500 rows (18,600 rows in all) in CSV, FITS, HDF5 and Parquet,
drawn from one 2x2 degree field so that catalogs overlap (duplicates across catalogs), runs
Combine Redshift Catalogs with profiles/local (the QA page included, no registration), and
prints the wall seconds, the jobs run and the job seconds per rule (Snakemake benchmark files),
the peak RSS of the process tree and the sha256 of the combined Parquet file. Target: 15 s on 2
idle cores (issue 20).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from combine import ROOT, SURVEYS, rule_seconds, run_pipeline  # noqa: E402

SIZES = [200, 250, 300, 350, 400, 500, 600, 700, 800, 900]
SIZES += [1000, 1100, 1200, 1300, 1400, 1500, 1600, 2000, 2500]
FORMATS = ["csv", "fits", "hdf5", "parquet"]


def generate(out: Path, seed: int = 20) -> list[dict]:
    """19 catalogs over one field; every object of a catalog is one of 12,000 true objects,
    observed with a 0.2 arcsec scatter, so catalogs share objects."""
    from astropy.table import Table

    rng = np.random.default_rng(seed)
    n_true = 12_000
    ra0 = rng.uniform(149.0, 151.0, n_true)
    dec0 = rng.uniform(1.0, 3.0, n_true)
    z0 = np.round(rng.gamma(2.0, 0.3, n_true), 5)
    surveys = list(SURVEYS.items())
    catalogs = []
    for i, size in enumerate(SIZES):
        survey, flags = surveys[i % len(surveys)]
        pick = np.sort(rng.choice(n_true, size, replace=False))
        scatter = rng.normal(0, 0.2 / 3600, (2, size))
        df = pd.DataFrame(
            {
                "ID": np.arange(1, size + 1, dtype=np.int64) + 1000 * i,
                "RA": ra0[pick] + scatter[0] / np.cos(np.radians(dec0[pick])),
                "DEC": dec0[pick] + scatter[1],
                "Z": np.round(z0[pick] + rng.normal(0, 1e-3, size), 5),
                "ZERR": np.round(rng.uniform(1e-4, 1e-2, size), 6),
                "FLAG": rng.choice(flags, size),
            }
        )
        fmt = FORMATS[i % len(FORMATS)]
        name = f"cat{i:02d}_{survey.lower()}"
        path = out / f"{name}.{fmt}"
        entry: dict = {"name": name, "path": str(path), "survey": {"value": survey}}
        if fmt == "csv":
            df.to_csv(path, index=False)
        elif fmt == "fits":
            Table.from_pandas(df).write(path, overwrite=True)
        elif fmt == "hdf5":
            df.to_hdf(path, key="cat", mode="w", format="table")
            entry["hdf5_key"] = "cat"
        else:
            df.to_parquet(path, index=False)
        entry["columns"] = {
            "id": "ID",
            "ra": "RA",
            "dec": "DEC",
            "z": "Z",
            "z_err": "ZERR",
            "z_flag": "FLAG",
        }
        catalogs.append(entry)
    return catalogs


def jobs_run(work: Path) -> dict[str, tuple[int, float]]:
    """Per rule: jobs run and their summed seconds inside the job (the provenance sidecars:
    the step, without the process start and imports before it)."""
    out: dict[str, tuple[int, float]] = {}
    for sidecar in (work / ".pzforge" / "runs").glob("*/jobs/*.json"):
        job = json.loads(sidecar.read_text())
        seconds = (
            datetime.fromisoformat(job["ended_at"]) - datetime.fromisoformat(job["started_at"])
        ).total_seconds()
        rule = re.sub(r"_\d+$", "", job["rule"])  # ingest_catalogs_1, _2...: one line
        n, total = out.get(rule, (0, 0.0))
        out[rule] = (n + 1, total + seconds)
    return out


def batched_profile(work: Path, batches: int) -> Path | None:
    """profiles/local with ``resources: [ingest_batches=N]`` (small catalogs several to a job);
    None (the plain local profile) for 0."""
    if batches == 0:
        return None
    base = yaml.safe_load((ROOT / "profiles" / "local" / "config.yaml").read_text())
    base["resources"] = [f"ingest_batches={batches}"]
    folder = work / "profile-local-batched"
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(base))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--batches",
        type=int,
        default=2,
        help="ingest_batches of the local profile (0: one job per catalog)",
    )
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pzsmall-"))
    for sub in ("results", "logs", "benchmarks", ".pzforge", ".snakemake"):
        shutil.rmtree(work / sub, ignore_errors=True)
    (work / "data").mkdir(parents=True, exist_ok=True)
    catalogs = generate(work / "data")
    config = {"run_name": "small", "catalogs": catalogs, "registry": {"register": False}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    rows = sum(SIZES)
    wall, peak = run_pipeline("combine_redshift", work, profile=batched_profile(work, args.batches))
    rules = rule_seconds(work / "benchmarks" / "small")
    jobs = jobs_run(work)
    combined = work / "results" / "small" / "combined" / "small.parquet"
    print(f"catalogs             {len(SIZES)} ({', '.join(FORMATS)}), {rows:,} rows")
    print(f"wall seconds         {wall:.1f}  (target 15 s on 2 idle cores)")
    print(f"jobs                 {sum(n for n, _ in jobs.values())}")
    print(f"peak RSS (tree)      {peak / 2**30:.2f} GiB")
    print("  rule                          jobs  job s (benchmark)  step s (sidecars)")
    for rule, (n, step) in sorted(jobs.items()):
        bench = f"{rules[rule]:8.1f}" if rule in rules else "       -"
        print(f"  {rule:<28} {n:5d}  {bench}           {step:8.1f}")
    print(f"combined sha256      {hashlib.sha256(combined.read_bytes()).hexdigest()}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
