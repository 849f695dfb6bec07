"""UMAP (umap-learn) and PCA (scikit-learn) embeddings.

umap-learn compiles its numba functions on first use in every process (about 7 s here); the ones
it marks cacheable are cached in ``NUMBA_CACHE_DIR``, which we default to
``~/.cache/pzforge/numba`` so the cache survives read-only installs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

# Metrics of umap-learn that work on continuous features without extra arguments; the feature-
# space metrics (pzforge.embedding.metrics) use the same metric through scikit-learn / scipy.
UMAP_METRICS = (
    "euclidean",
    "manhattan",
    "chebyshev",
    "minkowski",
    "canberra",
    "braycurtis",
    "cosine",
    "correlation",
)
N_NEIGHBORS_RANGE = (2, 200)
MIN_DIST_RANGE = (0.0, 0.99)
N_COMPONENTS = (2, 3)


def _numba_cache() -> None:
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "pzforge" / "numba"))


# umap-learn finds neighbours exactly below this size and with pynndescent above it; pynndescent's
# NN-descent is compiled by numba in every process (about 25 s here, it is not cacheable), so
# above it we give UMAP exact neighbours from scikit-learn's trees instead (about 1 s at 50,000
# rows of a few features), which are also exact rather than approximate.
EXACT_KNN_MIN_ROWS = 4096


def exact_knn(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours of every row, the row itself first (UMAP's precomputed_knn layout)."""
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=k - 1, metric=metric).fit(X).kneighbors()
    n = len(X)
    idx = np.hstack([np.arange(n)[:, None], idx])
    dist = np.hstack([np.zeros((n, 1)), dist])
    return idx.astype(np.int32), dist.astype(np.float32)


def fit_umap(X: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """UMAP coordinates of ``X`` (float64, n x n_components); same seed, same coordinates."""
    return umap_model(X, params)[1]


def umap_model(
    X: np.ndarray, params: dict[str, Any], *, for_transform: bool = False
) -> tuple[Any, np.ndarray]:
    """The fitted ``umap.UMAP`` and the coordinates of ``X`` (what ``fit_umap`` returns); the
    model embeds new rows onto the same map with ``umap_transform``. ``for_transform``: keep
    umap-learn's own neighbour search (precomputed neighbours leave a model that cannot
    transform), at the price of compiling pynndescent above EXACT_KNN_MIN_ROWS rows."""
    _numba_cache()
    k = int(params["n_neighbors"])
    exact = len(X) >= EXACT_KNN_MIN_ROWS and not for_transform
    knn = exact_knn(X, k, params["metric"]) if exact else (None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state": intended
        import umap

        model = umap.UMAP(
            n_neighbors=int(params["n_neighbors"]),
            min_dist=float(params["min_dist"]),
            n_components=int(params["n_components"]),
            metric=params["metric"],
            random_state=int(params["random_state"]),
            n_epochs=params.get("n_epochs"),
            n_jobs=1,
            precomputed_knn=(*knn, None),
        )
        return model, np.asarray(model.fit_transform(X), dtype="float64")


def umap_transform(model: Any, X: np.ndarray) -> np.ndarray:
    """New rows embedded onto a fitted map (their features scaled as the fit's were)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(model.transform(X), dtype="float64")


def umap_rebuild(X: np.ndarray, embedding: np.ndarray, params: dict[str, Any]) -> Any:
    """A fitted map rebuilt from its training rows and stored coordinates, without pickle.

    umap-learn can only save a model with pickle, which runs code when loaded; so a stored fit
    keeps plain arrays (the scaled rows ``X`` and umap-learn's own ``embedding_``) and this
    rebuilds the model: the neighbour graph and search index again from ``X`` (deterministic
    for the seed, a second at most), one optimisation epoch whose result is then replaced by the
    stored coordinates. ``transform`` reads only those, so new rows land exactly where the
    original model put them (tests/embedding/test_fit_rebuild.py checks equality)."""
    _numba_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap

        model = umap.UMAP(
            n_neighbors=int(params["n_neighbors"]),
            min_dist=float(params["min_dist"]),
            n_components=int(params["n_components"]),
            metric=params["metric"],
            random_state=int(params["random_state"]),
            n_epochs=1,
            n_jobs=1,
        ).fit(X)
    if model.embedding_.shape != embedding.shape:
        raise ValueError(f"stored coordinates {embedding.shape} do not fit {len(X)} rows")
    model.embedding_ = np.ascontiguousarray(embedding, dtype=model.embedding_.dtype)
    model.n_epochs = params.get("n_epochs")  # what transform reads to choose its epochs
    return model


def fit_pca(X: np.ndarray, n_components: int) -> np.ndarray:
    """PCA coordinates (the linear baseline every metric is also computed for)."""
    from sklearn.decomposition import PCA

    Y = PCA(n_components=n_components, svd_solver="full").fit_transform(X)
    # fix the sign of each axis (largest |loading| positive) so outputs are reproducible
    signs = np.sign(Y[np.argmax(np.abs(Y), axis=0), np.arange(Y.shape[1])])
    return Y * np.where(signs == 0, 1, signs)


def stability_replicates(
    X: np.ndarray, params: dict[str, Any], stability: dict[str, Any]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """UMAP fits for the stability metrics, on a seeded subsample of the rows.

    Returns ``(rows, fits)``: the subsample's row indices and its embeddings, keyed
    ``seed_<random_state>`` (same seed as the main fit) and ``seed_<s>`` for each extra seed.
    When the subsample is the whole sample, the main fit is not repeated (the caller reuses it).
    """
    n = len(X)
    size = min(int(stability["sample_size"]), n)
    rng = np.random.default_rng(int(stability["seed"]))
    rows = np.arange(n) if size >= n else np.sort(rng.choice(n, size=size, replace=False))
    fits: dict[str, np.ndarray] = {}
    seeds = [int(params["random_state"])] + [int(s) for s in stability["seeds"]]
    for seed in dict.fromkeys(seeds):
        if size >= n and seed == int(params["random_state"]):
            continue
        fits[f"seed_{seed}"] = fit_umap(X[rows], {**params, "random_state": seed})
    return rows, fits
