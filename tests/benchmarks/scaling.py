"""Benchmark: the duplicate stage with 1, 2 and 4 Dask workers (not a test).

    .venv/bin/python tests/benchmarks/scaling.py ROWS [--slurm]

Builds one synthetic HATS catalog (+ margin) of ROWS rows with 5 % duplicates, then runs the
duplicate search (pzforge.combine.find_duplicates) on LocalClusters of 1, 2 and 4 single-threaded
workers, or with --slurm on dask-jobqueue SLURM workers (1, 2, 4 jobs) of the local test SLURM,
and prints seconds and speed-up against one worker. On this 2-core machine more than 2 workers
cannot speed anything up; the figure shows the overhead of adding them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    from combine import generate  # the synthetic catalogs of the combine benchmark

    from pzforge.combine.duplicates import find_duplicates
    from pzforge.combine.homogenize import RuleBook
    from pzforge.combine.ingest import ingest_catalog, write_ingested
    from pzforge.pipelines import validate as validate_config
    from pzforge.tiles.partition import partition_catalog

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("--slurm", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        catalogs = generate(args.rows, work)
        config = validate_config({"catalogs": catalogs})
        book = RuleBook.load(Path(__file__).resolve().parents[2] / "config" / "surveys.yaml")
        files = []
        for spec in config["catalogs"]:
            df, _ = ingest_catalog(spec, config["validation"], config["homogenization"], book)
            out = work / f"ingested_{spec['name']}.parquet"
            write_ingested(df, {}, out)
            files.append(out)
        partition_catalog(files, work / "cat", work / "margin", config["partition"], n_workers=2)
        base = None
        for n in (1, 2, 4):
            settings = (
                {
                    "cluster": "slurm",
                    "jobs": n,
                    "memory": "1GB",
                    "queue": "debug",
                    "interface": "lo",
                }
                if args.slurm
                else {"cluster": "local", "n_workers": n}
            )
            start = time.perf_counter()
            pairs, _ = find_duplicates(work / "cat", work / "margin", 1.0, dask_settings=settings)
            seconds = time.perf_counter() - start
            base = base or seconds
            print(
                f"{n} worker(s): {seconds:6.1f} s  speed-up {base / seconds:4.2f}x  ({len(pairs):,} pairs)"
            )


if __name__ == "__main__":
    main()
