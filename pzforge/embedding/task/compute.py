"""The job of an embedding task: the embedding pipeline's feature preparation and UMAP fit on
the training product (or the stored fit), hydro-vis's result (coordinates, labels, per-point
scores, top-100 neighbours, metrics) and the production product embedded onto the map."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import registry
from pzforge.embedding.task.store import FitCache, FittedMap
from pzforge.errors import PzforgeError

TOP_K = 100
MIN_ROWS = 20


def umap_params(params: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's UMAP settings from a task's (hydro-vis spells n_neighbours)."""
    p = params.get("parameters") or {}
    return {
        "metric": p.get("metric", "euclidean"),
        "n_neighbors": int(p.get("n_neighbours", 15)),
        "min_dist": float(p.get("min_dist", 0.1)),
        "n_components": int(p.get("n_components", 2)),
        "random_state": int(p.get("random_state", 42)),
        "n_epochs": p.get("n_epochs"),
    }


def prepare(
    raw: pd.DataFrame, features: list[str], label: str | None, size: int, seed: int, source: str
):
    """The embedding pipeline's feature preparation (``features.prepare``) with these columns."""
    from pzforge.embedding import features as feat

    return feat.prepare(
        raw,
        features={"columns": features, "standardize": True, "sentinels": [99, -99]},
        columns={"labels": [label] if label else []},
        sampling={"sample_size": size, "seed": seed},
        source=source,
        min_rows=MIN_ROWS,
    )


def fit_key(product_id: int, checksum: str, params: dict[str, Any], features: list[str]) -> str:
    settings = {
        "umap": umap_params(params),
        "features": features,
        "label": params.get("label"),
        "size": params.get("training_data_sample_size"),
        "seed": params.get("seed"),
    }
    text = json.dumps([product_id, checksum, settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _labels(meta: pd.DataFrame, label: str | None) -> dict[str, Any]:
    if not label or label not in meta:
        return {}
    values = meta[label]
    numeric = pd.api.types.is_float_dtype(values) and values.nunique() > 20
    data = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in values]
    return {label: {"data": data, "coloring_type": "gradient" if numeric else "class"}}


def embed(
    training: dict[str, Any],
    production: dict[str, Any] | None,
    params: dict[str, Any],
    cache: FitCache,
) -> dict[str, Any]:
    """One task on resolved inputs (``support.task_input``): the fit (or the stored one), its
    scores, neighbours and metrics, in hydro-vis's shape; and the production rows embedded onto
    the map when a production input is given."""
    from pzforge.embedding import fit
    from pzforge.embedding import metrics as m

    features = training["features"]
    key = fit_key(training["product_id"], training["checksum"], params, features)
    up = umap_params(params)
    fitted, cached_in = cache.get(key, up)
    if fitted is None:
        label = params.get("label")
        columns = list(dict.fromkeys([*features, *([label] if label else [])]))
        raw = registry.formats.read_table(training["path"], training["format"], columns)
        fs = prepare(
            raw,
            features,
            label,
            int(params.get("training_data_sample_size", 5000)),
            int(params.get("seed", 42)),
            training["internal_name"],
        )
        if up["n_neighbors"] >= len(fs.X):
            raise PzforgeError(
                f"n_neighbours = {up['n_neighbors']} needs more than {len(fs.X)} rows"
            )
        t0 = time.perf_counter()
        model, coords = fit.umap_model(fs.X, up, for_transform=True)
        seconds = time.perf_counter() - t0
        cache.fits += 1
        stats = fs.stats
        fitted = FittedMap(
            model, coords, fs.X, features, fs.meta,
            np.array([stats["feature_mean"][f] for f in features]),
            np.array([stats["feature_std"][f] for f in features]),
            seconds, time.time(),
        )  # fmt: skip
        cache.put(key, fitted)
    X, Y = fitted.X, fitted.coords
    n = len(X)
    top = m.neighbours(X, min(TOP_K, n - 1), up["metric"])
    k = max(1, min(15, n // 2 - 1))
    tc = m.trustworthiness_continuity(X, Y, [k], up["metric"])[k]
    knn = m.knn_preservation(X, Y, k, up["metric"])
    result: dict[str, Any] = {
        "transformer": "umap",
        "parameters": up,
        "features": features,
        "data_shape": list(Y.shape),
        "data": np.round(Y, 6).tolist(),
        "request_ids": fitted.meta["id"].tolist() if "id" in fitted.meta else list(range(n)),
        "class_labels": _labels(fitted.meta, params.get("label")),
        "metrics": {
            "knn_preservation": {"data": np.round(knn, 6).tolist(), "coloring_type": "gradient"}
        },
        "top_100": top.tolist(),
        "visualization_metrics": _chosen_metrics(params, X, Y, tc, knn, k),
        "fit": {
            "cached": bool(cached_in),
            "cached_in": cached_in or None,
            "key": key,
            "fit_seconds": round(fitted.fit_seconds, 3),
            "fitted_at": fitted.fitted_at,
            "rows": n,
        },
    }
    if production is not None:
        result["production"] = _production(production, params, fitted, up)
    return result


def run_embedding_task(
    inputs: dict[str, Any], params: dict[str, Any], fits_dir: str | Path, output: str | Path
) -> None:
    """The ``run_embedding_task`` rule: the task's result as JSON (fitted maps in ``fits_dir``)."""
    from pzforge.io import atomic

    cache = FitCache(size=1, folder=Path(fits_dir))
    result = embed(inputs["training"], inputs.get("production"), params, cache)
    atomic.write_json(result, output)


def _chosen_metrics(params, X, Y, tc, knn, k) -> dict[str, float]:
    """The visualisation metrics the request names (hydro-vis's ``visualization_metrics``)."""
    from pzforge.embedding import metrics as m

    wanted = params.get("visualization_metrics") or ["trustworthiness", "continuity"]
    out: dict[str, float] = {}
    if "trustworthiness" in wanted:
        out[f"trustworthiness_k{k}"] = round(float(tc[0]), 6)
    if "continuity" in wanted:
        out[f"continuity_k{k}"] = round(float(tc[1]), 6)
    if "global_score" in wanted:
        out["global_score"] = round(m.trimap_global_score(X, Y), 6)
    if "knn_preservation" in wanted:
        out["knn_preservation_mean"] = round(float(np.mean(knn)), 6)
    return out


def _production(
    source: dict[str, Any], params: dict[str, Any], fitted: FittedMap, up: dict[str, Any]
) -> dict[str, Any]:
    """The production product's rows, scaled as the training rows were, on the trained map."""
    from pzforge.embedding import features as feat
    from pzforge.embedding import fit
    from pzforge.embedding import metrics as m

    raw = registry.formats.read_table(source["path"], source["format"])
    absent = [c for c in fitted.features if c not in raw.columns]
    if absent:
        raise PzforgeError(
            f"the production product {source['internal_name']} lacks feature column(s) "
            f"{', '.join(absent)} of the trained map"
        )
    table, dropped = feat.build_features(
        raw, {"columns": fitted.features, "sentinels": [99, -99]}, source["internal_name"]
    )
    valid = np.flatnonzero(table.notna().all(axis=1).to_numpy())
    size = int(params.get("production_data_sample_size", 1000))
    if len(valid) > size:
        rng = np.random.default_rng(int(params.get("seed", 42)))
        valid = np.sort(rng.choice(valid, size=size, replace=False))
    Xp = (table.iloc[valid].to_numpy(dtype="float64") - fitted.mean) / fitted.std
    Yp = fit.umap_transform(fitted.model, Xp)
    out: dict[str, Any] = {
        "product_id": source["product_id"],
        "rows": len(Xp),
        "dropped": dropped,
        "data_shape": list(Yp.shape),
        "data": np.round(Yp, 6).tolist(),
        "row_index": valid.tolist(),
    }
    k = min(15, len(Xp) // 2 - 1)
    if k >= 1:
        t, c = m.trustworthiness_continuity(Xp, Yp, [k], up["metric"])[k]
        out["trustworthiness"] = {f"k{k}": round(float(t), 6)}
        out["continuity"] = {f"k{k}": round(float(c), 6)}
    return out
