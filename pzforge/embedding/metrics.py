"""Quality metrics of an embedding Y of features X (definitions in docs/embedding.md).

Library implementations are used where they exist: scipy's Procrustes analysis and Spearman
correlation, scikit-learn's nearest neighbours, kNN regression and cross-validation. Trustworthiness
and continuity are scikit-learn's definition (``sklearn.manifold.trustworthiness``), computed here
in one pass for several k and both directions (the library call would sort the full distance
matrix once per k and direction); the tests check the two agree to 1e-12.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

CHUNK_ROWS = 512


def _nearest(D: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k smallest entries of each row, nearest first."""
    part = np.argpartition(D, k, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(D, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _rank_of(D_sorted: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rank (1 = nearest) of each value in its row of the row-sorted distance block."""
    rows, n = D_sorted.shape
    finite = D_sorted[np.isfinite(D_sorted)]
    step = (finite.max() if finite.size else 1.0) * 2 + 1.0
    offset = (np.arange(rows) * step)[:, None]
    flat = np.where(np.isfinite(D_sorted), D_sorted, step - 0.5) + offset
    pos = np.searchsorted(flat.ravel(), (values + offset).ravel(), side="left")
    return pos.reshape(values.shape) - np.arange(rows)[:, None] * n + 1


def trustworthiness_continuity(
    X: np.ndarray, Y: np.ndarray, ks: Iterable[int], metric: str = "euclidean"
) -> dict[int, tuple[float, float]]:
    """Trustworthiness and continuity of Y (Euclidean) w.r.t. X (``metric``) for each k.

    T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k^Y(i)} max(0, r^X(i, j) - k), with
    r^X(i, j) the rank of j among i's neighbours in X; continuity swaps the roles of X and Y.
    Ranks are found by binary search in the sorted distance rows (no full argsort).
    """
    return trustworthiness_continuity_many(X, [Y], ks, metric)[0]


def trustworthiness_continuity_many(
    X: np.ndarray, Ys: list[np.ndarray], ks: Iterable[int], metric: str = "euclidean"
) -> list[dict[int, tuple[float, float]]]:
    """``trustworthiness_continuity`` of several embeddings of X, sharing the work on X."""
    ks = sorted({int(k) for k in ks})
    n = len(X)
    if ks[-1] >= n / 2:
        raise ValueError(f"k = {ks[-1]} is too large for {n} points (k must be < n/2)")
    kmax = ks[-1]
    penalty_t = [dict.fromkeys(ks, 0.0) for _ in Ys]
    penalty_c = [dict.fromkeys(ks, 0.0) for _ in Ys]
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        rows = np.arange(stop - start)
        DX = pairwise_distances(X[start:stop], X, metric=metric)
        DX[rows, rows + start] = np.inf
        near_x = _nearest(DX, kmax)
        sorted_x = np.sort(DX, axis=1)
        for e, Y in enumerate(Ys):
            DY = pairwise_distances(Y[start:stop], Y)
            DY[rows, rows + start] = np.inf
            near_y = _nearest(DY, kmax)
            # rank in X of Y's neighbours (trustworthiness), in Y of X's neighbours (continuity)
            rank_x = _rank_of(sorted_x, np.take_along_axis(DX, near_y, axis=1))
            rank_y = _rank_of(np.sort(DY, axis=1), np.take_along_axis(DY, near_x, axis=1))
            for k in ks:
                r = rank_x[:, :k] - k
                penalty_t[e][k] += float(r[r > 0].sum())
                r = rank_y[:, :k] - k
                penalty_c[e][k] += float(r[r > 0].sum())
    out = []
    for e in range(len(Ys)):
        res = {}
        for k in ks:
            norm = 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))
            res[k] = (1.0 - norm * penalty_t[e][k], 1.0 - norm * penalty_c[e][k])
        out.append(res)
    return out


def neighbours(Z: np.ndarray, k: int, metric: str = "euclidean") -> np.ndarray:
    """Indices of the k nearest neighbours of every row (self excluded)."""
    nn = NearestNeighbors(n_neighbors=k, metric=metric).fit(Z)
    return nn.kneighbors(return_distance=False)


def knn_preservation(X: np.ndarray, Y: np.ndarray, k: int, metric: str = "euclidean") -> np.ndarray:
    """Per point: Jaccard index of its k-neighbour sets in X and in Y (1 = same neighbours)."""
    a, b = neighbours(X, k, metric), neighbours(Y, k)
    both = np.sort(np.hstack([a, b]), axis=1)
    shared = (both[:, 1:] == both[:, :-1]).sum(axis=1)
    return shared / (2 * k - shared)


def distance_correlation(X: np.ndarray, Y: np.ndarray, metric: str = "euclidean") -> float:
    """Spearman rank correlation of all pairwise distances in X and in Y."""
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    return float(spearmanr(pdist(X, metric=metric), pdist(Y)).statistic)


def _linear_loss(X: np.ndarray, Y: np.ndarray) -> float:
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    A = np.linalg.lstsq(Y, X, rcond=None)[0]  # min_A ||X - Y A||^2
    return float(np.mean((X - Y @ A) ** 2))


def trimap_global_score(X: np.ndarray, Y: np.ndarray) -> float:
    """TriMap's global score (Amid & Warmuth 2019): exp(-(e(Y) - e_PCA) / e_PCA).

    e(Y) is the mean squared error of the best linear reconstruction of X from Y and e_PCA the
    same for a PCA of X with as many components: 1 for PCA, lower for worse global structure.
    """
    from pzforge.embedding.fit import fit_pca

    e_pca = _linear_loss(X, fit_pca(X, Y.shape[1]))
    return float(np.exp(-(_linear_loss(X, Y) - e_pca) / e_pca))


def procrustes_disparity(A: np.ndarray, B: np.ndarray) -> float:
    """scipy.spatial.procrustes disparity (0 = same shape up to shift, rotation, scale)."""
    from scipy.spatial import procrustes

    return float(procrustes(A, B)[2])


def photoz_scores(
    Z: np.ndarray, z: np.ndarray, *, k: int, folds: int, seed: int
) -> dict[str, float]:
    """kNN regression of redshift from Z, cross-validated; scores of dz = (z_pred - z) / (1 + z)."""
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.neighbors import KNeighborsRegressor

    cv = KFold(n_splits=folds, shuffle=True, random_state=seed)
    pred = cross_val_predict(KNeighborsRegressor(n_neighbors=k), Z, z, cv=cv)
    dz = (pred - z) / (1 + z)
    return {
        "sigma_nmad": float(1.4826 * np.median(np.abs(dz - np.median(dz)))),
        "scatter": float(np.std(dz)),
        "bias": float(np.median(dz)),
        "outlier_fraction": float(np.mean(np.abs(dz) > 0.15)),
    }


def subsample(n: int, size: int, seed: int) -> np.ndarray:
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
        return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def compute_metrics(
    X: np.ndarray,
    embeddings: dict[str, np.ndarray],
    *,
    settings: dict[str, Any],
    metric: str = "euclidean",
    z: np.ndarray | None = None,
    replicates: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, float]]:
    """Every metric for every embedding (e.g. ``umap`` and ``pca``).

    ``replicates[name]`` may hold ``rows`` (subsample indices), ``same_seed`` (the embedding of
    those rows fitted alone with the main seed) and ``other_seeds`` (list of embeddings of the
    same rows with other seeds). Returns ``(metrics, per_point, timings)``: per_point holds the
    kNN-preservation score of every row per embedding; timings are seconds per metric.
    """
    clock = _Clock()
    n = len(X)
    seed = int(settings["seed"])
    ks = [int(k) for k in settings["k"]]
    rank_rows = subsample(n, int(settings["rank_sample_size"]), seed)
    glob_rows = subsample(n, int(settings["global_sample_size"]), seed + 1)
    knn_k = int(settings["knn_k"])
    out: dict[str, Any] = {
        "n_points": n,
        "rank_sample_size": len(rank_rows),
        "global_sample_size": len(glob_rows),
        "feature_metric": metric,
    }
    per_point: dict[str, np.ndarray] = {}
    base_photoz = None
    if z is not None:
        base_photoz = clock(
            "photoz",
            photoz_scores,
            X,
            z,
            k=int(settings["photoz_k"]),
            folds=int(settings["photoz_folds"]),
            seed=seed,
        )
        out["features_photoz"] = {key: _r(v) for key, v in base_photoz.items()}
    all_tc = clock(
        "trustworthiness_continuity",
        trustworthiness_continuity_many,
        X[rank_rows],
        [Y[rank_rows] for Y in embeddings.values()],
        ks,
        metric,
    )
    for (name, Y), tc in zip(embeddings.items(), all_tc, strict=True):
        m: dict[str, Any] = {}
        m["trustworthiness"] = {str(k): _r(t) for k, (t, _c) in tc.items()}
        m["continuity"] = {str(k): _r(c) for k, (_t, c) in tc.items()}
        score = clock("knn_preservation", knn_preservation, X, Y, knn_k, metric)
        per_point[name] = score
        m["knn_preservation"] = {"k": knn_k, "mean_jaccard": _r(score.mean())}
        m["distance_spearman"] = _r(
            clock("distance_spearman", distance_correlation, X[glob_rows], Y[glob_rows], metric)
        )
        m["trimap_global_score"] = _r(
            clock("trimap_global_score", trimap_global_score, X[glob_rows], Y[glob_rows])
        )
        rep = (replicates or {}).get(name) or {}
        stab: dict[str, Any] = {}
        if rep.get("same_seed") is not None:
            stab["subsample_disparity"] = _r(
                clock(
                    "stability",
                    procrustes_disparity,
                    Y[rep["rows"]],
                    rep["same_seed"],
                )
            )
        others = rep.get("other_seeds") or []
        if others:
            ref = rep["same_seed"] if rep.get("same_seed") is not None else Y[rep["rows"]]
            values = [clock("stability", procrustes_disparity, ref, o) for o in others]
            stab["seed_disparity"] = _r(np.mean(values))
        if rep:
            stab["sample_size"] = len(rep["rows"])
        m["stability"] = stab
        if z is not None:
            ph = clock(
                "photoz",
                photoz_scores,
                Y,
                z,
                k=int(settings["photoz_k"]),
                folds=int(settings["photoz_folds"]),
                seed=seed,
            )
            ph = {key: _r(v) for key, v in ph.items()}
            ph["sigma_nmad_ratio"] = _r(ph["sigma_nmad"] / base_photoz["sigma_nmad"])
            ph["scatter_ratio"] = _r(ph["scatter"] / base_photoz["scatter"])
            m["photoz"] = ph
        out[name] = m
    return out, per_point, clock.timings
