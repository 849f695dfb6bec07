"""Benchmark: the embedding pipeline's fit and metrics on DC2 photometry (not a test).

    .venv/bin/python tests/benchmarks/embedding.py [--sizes 5000 50000] [--data DIR]

5,000 rows are sampled from the DC2 file; larger sizes resample it with replacement and jitter
each magnitude by N(0, 0.02) (non-detections stay 99), so no two rows are identical. For each
size it prints the UMAP fit time (after a warm-up fit that pays numba's compilation, reported
separately), the stability fits, the time of every metric for UMAP + PCA, the metric total
against the fit (the metrics must not cost more than the fit: rank metrics use a
``rank_sample_size`` subsample), and the headline metric values.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import shared_data_dir  # noqa: E402

from pzforge.embedding import features as feat  # noqa: E402
from pzforge.embedding.fit import fit_pca, fit_umap, stability_replicates  # noqa: E402
from pzforge.embedding.metrics import compute_metrics  # noqa: E402
from pzforge.io import read_table  # noqa: E402

BANDS = [f"mag_{b}_lsst" for b in "ugrizy"]
UMAP = {"metric": "euclidean", "n_neighbors": 15, "min_dist": 0.1, "n_components": 2}
SETTINGS = {
    "k": [5, 15, 50],
    "knn_k": 15,
    "rank_sample_size": 4000,
    "global_sample_size": 1000,
    "photoz_k": 10,
    "photoz_folds": 5,
    "seed": 0,
}
STABILITY = {"sample_size": 2000, "seeds": [1], "seed": 0}


def catalog(data: Path, n: int) -> pd.DataFrame:
    raw = read_table(data / "photometry/test_dc2_training_9816.hdf5", "hdf5", hdf5_key="photometry")
    if n <= len(raw):
        return raw
    rng = np.random.default_rng(0)
    big = raw.iloc[rng.integers(0, len(raw), n)].reset_index(drop=True)
    for band in BANDS:
        big[band] = big[band].astype("float64")
        detected = big[band] != 99
        big.loc[detected, band] += rng.normal(0, 0.02, detected.sum())
    big["id"] = np.arange(n)
    return big


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 50000])
    ap.add_argument("--data", type=Path, default=shared_data_dir())
    args = ap.parse_args()
    if args.data is None:
        sys.exit("shared data not found (set PZFORGE_SHARED_DATA)")
    t0 = time.perf_counter()
    for rows in (300, 5000):  # both of umap-learn's neighbour paths (pzforge.embedding.fit)
        fit_umap(np.random.default_rng(0).normal(size=(rows, 4)), {**UMAP, "random_state": 0})
    print(f"numba compilation + warm-up fits (once per process): {time.perf_counter() - t0:.1f} s")
    for n in args.sizes:
        fs = feat.prepare(
            catalog(args.data, int(n * 1.1)),  # about 7 % of the rows have a non-detection
            features={"magnitudes": BANDS, "include_magnitude": "mag_i_lsst"},
            columns={"id": "id", "redshift": "redshift"},
            sampling={"sample_size": n, "seed": 42},
        )
        X = fs.X
        t0 = time.perf_counter()
        Y = fit_umap(X, {**UMAP, "random_state": 42})
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows, fits = stability_replicates(X, {**UMAP, "random_state": 42}, STABILITY)
        stab_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        P = fit_pca(X, 2)
        pca_s = time.perf_counter() - t0
        same = fits.get("seed_42")
        reps = {
            "umap": {
                "rows": rows,
                "same_seed": same,
                "other_seeds": [v for k, v in fits.items() if k != "seed_42"],
            }
        }
        m, _pp, timings = compute_metrics(
            X, {"umap": Y, "pca": P}, settings=SETTINGS, z=fs.meta["z"].to_numpy(), replicates=reps
        )
        total = sum(timings.values()) + pca_s
        print(
            f"\n{len(X)} rows sampled from {fs.stats['rows_valid']} valid of {fs.stats['rows_in']}"
        )
        print(f"  UMAP fit                     {fit_s:8.2f} s")
        print(f"  stability fits ({len(fits)} x {len(rows)} rows) {stab_s:8.2f} s")
        print(f"  PCA fit                      {pca_s:8.2f} s")
        for name, secs in timings.items():
            print(f"  metric {name:<22}{secs:8.2f} s")
        verdict = "ok" if total <= fit_s else "MORE THAN THE FIT"
        print(
            f"  metrics total                {total:8.2f} s  ({total / fit_s:.2f} x fit: {verdict})"
        )
        u, p = m["umap"], m["pca"]
        print(
            f"  T@15 UMAP {u['trustworthiness']['15']:.3f} vs PCA {p['trustworthiness']['15']:.3f}; "
            f"C@15 {u['continuity']['15']:.3f} vs {p['continuity']['15']:.3f}; "
            f"sigma_NMAD ratio UMAP {u['photoz']['sigma_nmad_ratio']:.2f}, "
            f"PCA {p['photoz']['sigma_nmad_ratio']:.2f}; "
            f"Procrustes seed {u['stability'].get('seed_disparity')}"
        )


if __name__ == "__main__":
    main()
