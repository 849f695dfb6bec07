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
from combine import rule_seconds, run_pipeline  # noqa: E402

CHUNK = 1_000_000
POST_PARTITION = ("make_training_set", "summarize_training_set", "export_training_set")


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


def bare_crossmatch(ref_dir: Path, phot_dir: Path, margin_dir: Path) -> float:
    """lsdb's own crossmatch of the same HATS catalogs (nearest neighbour, 1 arcsec), to pandas."""
    import dask
    import lsdb

    start = time.perf_counter()
    left = lsdb.open_catalog(str(ref_dir))
    right = lsdb.open_catalog(str(phot_dir), margin_cache=str(margin_dir))
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
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int, nargs="?", default=1_000_000, help="spectroscopic rows N")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    n = args.rows
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pzbench-ts-"))
    (work / "data").mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    ref_path, phot_path = generate(n, work / "data")
    print(f"generated {n:,} + {10 * n:,} rows in {time.perf_counter() - t:.1f} s")
    config = {
        "pipeline": "training_set",
        "run_name": "bench",
        "reference": {"path": str(ref_path)},
        "photometry": {"path": str(phot_path), "bands": ["g", "r", "i"]},
        "split": {"method": "random", "training_fraction": 0.8},
        "partition": {"pixel_threshold": 1_000_000},
        "registry": {"register": False},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    wall, peak = run_pipeline("training_set", work)
    rules = rule_seconds(work / "benchmarks" / "bench")
    hats = work / "results" / "bench" / "hats"
    bare = bare_crossmatch(hats / "reference", hats / "photometry", hats / "photometry_margin")
    warm = bare_crossmatch(hats / "reference", hats / "photometry", hats / "photometry_margin")
    rows = pq.read_metadata(work / "results/bench/training/training_set.parquet").num_rows
    after = sum(rules.get(r, 0.0) for r in POST_PARTITION)
    print(f"spectroscopic rows   {n:,}")
    print(f"photometric rows     {10 * n:,}")
    print(f"training set rows    {rows:,}")
    print(f"wall seconds         {wall:.1f}")
    print(f"rows/s (spec+phot)   {11 * n / wall:,.0f}")
    print(f"peak RSS (tree)      {peak / 2**30:.2f} GiB")
    for rule, sec in sorted(rules.items()):
        print(f"  rule {rule:<24} {sec:8.1f} s")
    job = rules.get("make_training_set", 0.0)
    steps = json.loads((work / "results/bench/training/match_stats.json").read_text())["seconds"]
    inside = sum(steps.values())
    print(f"lsdb bare crossmatch {bare:.1f} s cold (fresh process: imports excluded, JIT included)")
    print(f"                     {warm:.1f} s warm (the same call again in that process)")
    print("make_training_set    " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
    print(
        f"  in-job total       {inside:.1f} s -> ratio {inside / bare:.2f}x to the cold bare crossmatch"
    )
    print(
        f"  job wall           {job:.1f} s (incl. interpreter start and imports) -> {job / bare:.2f}x"
    )
    print(
        f"after partitioning   {after:.1f} s (make_training_set + summary) -> "
        f"{after / bare:.2f}x; the summary page and plots are extra work bare lsdb does not do"
    )
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
