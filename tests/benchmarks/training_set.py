"""Benchmark: Training Set Maker end to end on synthetic catalogs (not a test).

    .venv/bin/python tests/benchmarks/training_set.py [N] [--workdir DIR] [--keep]

Generates N spectroscopic rows and 10 N photometric rows (an LSST Object-table layout: objectId,
ra, decl, g/r/i cModel fluxes in nJy) over N / 10,000 square degrees (100,000 photometric objects
per square degree); 80 % of the spectroscopic objects have a counterpart within 0.9 arcsec.
Runs ``pzforge run training_set`` with profiles/local and prints wall time, rows/s, peak RSS of
the process tree, each rule's time, and - in the same run, on the same HATS catalogs - lsdb's
bare crossmatch time, with the ratio of the pipeline after partitioning to it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from combine import rule_seconds, run_pipeline, seconds_after  # noqa: E402

CHUNK = 1_000_000
POST_PARTITION = ("make_training_set", "export_catalog", "write_training_set_manifest")


def generate(n: int, out: Path, seed: int = 1) -> tuple[Path, Path]:
    """Reference (one Parquet file) and photometry (Parquet written in chunks)."""
    rng = np.random.default_rng(seed)
    side = float(np.sqrt(n / 10_000))  # degrees; 10 n photometric rows at 100k / deg^2
    ra0, dec0 = 30.0, -side / 2
    ra = ra0 + rng.uniform(0, side, n)
    dec = dec0 + rng.uniform(0, side, n)
    ref = pd.DataFrame(
        {
            "id": np.char.add("spec", np.arange(n).astype(str)),
            "ra": ra,
            "dec": dec,
            "z": np.round(rng.gamma(2.0, 0.4, n), 5),
            "z_err": np.round(rng.uniform(1e-4, 1e-2, n), 6),
            "z_flag_homogenized": rng.choice([1, 2, 3, 4], n).astype(np.int8),
        }
    )
    ref_path = out / "reference.parquet"
    ref.to_parquet(ref_path, index=False)
    has = rng.random(n) < 0.8
    sep = rng.uniform(0, 0.9, n) / 3600
    ang = rng.uniform(0, 2 * np.pi, n)
    cra = ra[has] + sep[has] * np.sin(ang[has]) / np.cos(np.radians(dec[has]))
    cdec = dec[has] + sep[has] * np.cos(ang[has])
    n_phot = 10 * n
    phot_path = out / "photometry.parquet"
    schema = None
    writer = None
    counterparts = len(cra)
    for start in range(0, n_phot, CHUNK):
        k = min(CHUNK, n_phot - start)
        idx = np.arange(start, start + k)
        pra = ra0 + rng.uniform(0, side, k)
        pdec = dec0 + rng.uniform(0, side, k)
        planted = idx < counterparts
        pra[planted], pdec[planted] = cra[idx[planted]], cdec[idx[planted]]
        cols = {"objectId": idx.astype(np.int64) + 10**15, "ra": pra, "decl": pdec}
        for band in "gri":
            flux = rng.lognormal(7.0, 1.5, k) - 50.0  # some negative fluxes, as in real data
            cols[f"{band}_cModelFlux"] = flux.astype(np.float32)
            cols[f"{band}_cModelFluxErr"] = rng.uniform(5, 50, k).astype(np.float32)
        table = pa.table(cols)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(phot_path, schema, compression="zstd", compression_level=3)
        writer.write_table(table)
    writer.close()
    return ref_path, phot_path


def bare_crossmatch(hats: Path, jit_cache: bool = False) -> list[float]:
    """lsdb's own crossmatch of the same HATS catalogs (nearest neighbour, 1 arcsec, to pandas),
    twice, in a fresh process: [cold (imports excluded), warm (the same call again)].

    jit_cache: turn on numba's disk cache for hats (pzforge.tiles.jit_cache), as the pipeline does;
    without it every fresh process compiles hats' pixel-tree alignment again (stock lsdb).
    """
    cmd = [sys.executable, __file__, "--bare", str(hats)] + (["--jit-cache"] if jit_cache else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [float(x) for x in out.split()]


def _bare_main(hats: Path, jit_cache: bool) -> None:
    import dask
    import lsdb

    if jit_cache:
        from pzforge.tiles.jit_cache import enable_jit_cache

        enable_jit_cache()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        left = lsdb.open_catalog(str(hats / "reference" / "catalog"))
        right = lsdb.open_catalog(
            str(hats / "photometry" / "catalog"), margin_cache=str(hats / "photometry" / "margin")
        )
        xm = left.crossmatch(
            right,
            n_neighbors=1,
            radius_arcsec=1.0,
            require_right_margin=True,
            suffixes=("", ""),
            suffix_method="overlapping_columns",
        )
        with dask.config.set(scheduler="threads"):
            xm.compute(progress_bar=False)
        times.append(time.perf_counter() - start)
    print(*times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int, nargs="?", default=1_000_000, help="spectroscopic rows N")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--bare", type=Path, help=argparse.SUPPRESS)  # internal: time bare lsdb
    ap.add_argument("--jit-cache", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare:
        return _bare_main(args.bare, args.jit_cache)
    n = args.rows
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pzbench-ts-"))
    (work / "data").mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    ref_path, phot_path = generate(n, work / "data")
    print(f"generated {n:,} + {10 * n:,} rows in {time.perf_counter() - t:.1f} s")
    config = {
        "pipeline": "training_set",
        "run_name": "bench",
        # every spectroscopic row is used (no type column; the same work as before the cuts)
        "reference": {
            "path": str(ref_path),
            "columns": {"type": None},
            "selection": {"min_z_flag": None, "types": None},
        },
        "photometry": {"path": str(phot_path), "bands": ["g", "r", "i"]},
        "split": {"method": "random", "training_fraction": 0.8},
        "partition": {"pixel_threshold": 1_000_000},
        "registry": {"register": False},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    wall, peak = run_pipeline("training_set", work)
    rules = rule_seconds(work / "benchmarks" / "bench")
    hats = work / "results" / "bench" / "hats"
    bare, warm = bare_crossmatch(hats)
    bare_cached, _ = bare_crossmatch(hats, jit_cache=True)
    rows = pq.read_metadata(work / "results/bench/training/training_set.parquet").num_rows
    after_wall = seconds_after(work, "partition_catalog")
    after_jobs = sum(rules.get(r, 0.0) for r in POST_PARTITION)
    print(f"spectroscopic rows   {n:,}")
    print(f"photometric rows     {10 * n:,}")
    print(f"training set rows    {rows:,}")
    print(f"wall seconds         {wall:.1f}")
    print(f"rows/s (spec+phot)   {11 * n / wall:,.0f}")
    print(f"peak RSS (tree)      {peak / 2**30:.2f} GiB")
    for rule, sec in sorted(rules.items()):
        print(f"  rule {rule:<24} {sec:8.1f} s")
    steps = json.loads((work / "results/bench/training/match_stats.json").read_text())["seconds"]
    print("make_training_set    " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
    print("lsdb bare crossmatch (a fresh process, imports excluded):")
    print(f"  stock lsdb         {bare:.1f} s (hats' numba functions compiled in the process)")
    print(
        f"  with the JIT cache {bare_cached:.1f} s (pzforge.tiles.jit_cache, as the pipeline runs)"
    )
    print(f"  warm               {warm:.1f} s (the same call again in that process)")
    print(
        f"after partitioning   {after_wall:.1f} s wall (end of partition_catalog to the last job's "
        f"end; job processes {after_jobs:.1f} s) -> {after_wall / bare:.2f}x stock lsdb, "
        f"{after_wall / bare_cached:.2f}x lsdb with the JIT cache"
    )
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
