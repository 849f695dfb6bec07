"""Embedding tasks (hydro-vis's visualisation API) run by the worker, on the embedding pipeline's
own code: the features are prepared by ``pzforge.embedding.features.prepare`` and fitted by
``pzforge.embedding.fit.umap_model``, so a task and a pipeline run with the same settings give
the same coordinates.

**The fitted-model cache.** A fit is kept per (product, main file checksum, settings) in the
worker's memory (a few maps, least recently used dropped) and as a server-owned artefact in the
site folder (``<site>/embedding_fits/<key>/``), so a restarted worker or another worker of the
site reuses it instead of fitting again. The artefact is plain arrays, never a pickle: a UMAP
model can only be saved with pickle/joblib, and a pickle is code that runs when loaded. It keeps
the scaled training rows and umap-learn's coordinates (``fit.npz``, read with
``allow_pickle=False``), the rows' ids and labels (``meta.parquet``) and ``fit.json`` (settings,
feature scaling, umap-learn's version and the sha256 of both files); ``fit.umap_rebuild`` turns
them back into a model that embeds new rows exactly where the original did. An artefact whose
checksums or umap-learn version do not match is ignored and fitted again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import registry
from pzforge.errors import PzforgeError
from registry.hashing import sha256_file

log = logging.getLogger("pzforge.worker")
TOP_K = 100
MIN_FEATURES = 2
MIN_ROWS = 20


@dataclass
class FittedMap:
    model: Any
    coords: np.ndarray
    X: np.ndarray
    features: list[str]
    meta: pd.DataFrame
    mean: np.ndarray
    std: np.ndarray
    fit_seconds: float
    fitted_at: float
    fit_number: int


@dataclass
class FitCache:
    """Fitted maps keyed by (product, checksum, settings): in this process, and on disk in
    ``folder`` (server-owned artefacts shared by the site's workers) when one is given."""

    size: int = 4
    folder: Path | None = None
    fits: int = 0  # fits made by this process (a cache hit does not count)
    _maps: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str, umap_settings: dict[str, Any]) -> tuple[FittedMap | None, str]:
        """The map and where it came from (``memory`` or ``artefact``), or (None, "")."""
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key], "memory"
        fitted = load_artefact(self.folder / key, umap_settings) if self.folder else None
        if fitted is None:
            return None, ""
        self._remember(key, fitted)
        return fitted, "artefact"

    def put(self, key: str, fitted: FittedMap) -> None:
        self._remember(key, fitted)
        if self.folder is not None:
            save_artefact(self.folder / key, fitted)

    def _remember(self, key: str, fitted: FittedMap) -> None:
        with self._lock:
            self._maps[key] = fitted
            while len(self._maps) > self.size:
                self._maps.popitem(last=False)


ARRAYS = ("X", "embedding", "mean", "std")


def save_artefact(folder: Path, fitted: FittedMap) -> None:
    """Write a fit's artefact: files in a temporary sibling folder, renamed into place at once
    (a reader sees all of it or none; of two workers that fitted the same key, one keeps its)."""
    import umap

    if folder.is_dir():
        return
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        np.savez(tmp / "fit.npz", X=fitted.X, embedding=fitted.model.embedding_,
                 mean=fitted.mean, std=fitted.std)  # fmt: skip
        fitted.meta.reset_index(drop=True).to_parquet(tmp / "meta.parquet", index=False)
        info = {
            "features": fitted.features,
            "umap_learn": umap.__version__,
            "fit_seconds": fitted.fit_seconds,
            "fitted_at": fitted.fitted_at,
            "sha256": {n: sha256_file(tmp / n) for n in ("fit.npz", "meta.parquet")},
        }
        (tmp / "fit.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        os.rename(tmp, folder)
    except OSError as exc:  # another worker renamed its copy first, or the disk is full
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():
            log.warning("could not store the fitted map in %s: %s", folder, exc)


def load_artefact(folder: Path, umap_settings: dict[str, Any]) -> FittedMap | None:
    """A stored fit as a usable map, or None (absent, altered, or from another umap-learn)."""
    import umap

    from pzforge.embedding import fit

    info_path = folder / "fit.json"
    if not info_path.is_file():
        return None
    try:
        info = json.loads(info_path.read_text())
        altered = [n for n, h in info["sha256"].items() if sha256_file(folder / n) != h]
        if altered or info["umap_learn"] != umap.__version__:
            log.warning("fitted map %s is %s: fitting again", folder.name,
                        f"altered ({', '.join(altered)})" if altered else
                        f"from umap-learn {info['umap_learn']}")  # fmt: skip
            return None
        with np.load(folder / "fit.npz", allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in ARRAYS}
        meta = pd.read_parquet(folder / "meta.parquet")
    except (OSError, ValueError, KeyError) as exc:
        log.warning("fitted map %s cannot be read (%s): fitting again", folder.name, exc)
        return None
    model = fit.umap_rebuild(arrays["X"], arrays["embedding"], umap_settings)
    return FittedMap(
        model, np.asarray(arrays["embedding"], dtype="float64"), arrays["X"], info["features"],
        meta, arrays["mean"], arrays["std"], info["fit_seconds"], info["fitted_at"], 0,
    )  # fmt: skip


def _table(reg: registry.Registry, ref: int | str) -> tuple[registry.ProductDetail, Any]:
    detail, main = reg.main_file(ref)
    if main.format not in registry.formats.TABULAR:
        raise PzforgeError(
            f"{detail.internal_name}'s main file is {main.format}, not a table: nothing to embed"
        )
    return detail, main


def numeric_columns(reg: registry.Registry, ref: int | str) -> tuple[list[str], list[str]]:
    """(numeric columns, id-like columns) of a product's main table (its schema for Parquet)."""
    detail, main = _table(reg, ref)
    path = main.path
    if main.format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
        numeric = [
            f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
        ]
    elif main.format == "csv":  # the types of the first rows: not the whole file here
        df = pd.read_csv(path, nrows=1000)
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    else:
        df = registry.formats.read_table(path, main.format)
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    ids = {c.name for c in detail.columns if c.role in ("id", "ra", "dec")}
    ids |= {c for c in numeric if c.lower() in ("id", "objid", "object_id", "index")}
    return [c for c in numeric if c not in ids], sorted(ids)


def supported(reg: registry.Registry, ref: int | str, features: list[str] | None = None):
    """Whether a product can be embedded, and why not (hydro-vis's ``supported``)."""
    try:
        numeric, _ids = numeric_columns(reg, ref)
    except (PzforgeError, registry.RegistryError) as exc:
        return {"supported": False, "reason": str(exc), "features": []}
    if features:
        absent = [c for c in features if c not in numeric]
        if absent:
            return {
                "supported": False,
                "reason": f"not numeric columns of the product: {', '.join(absent)}",
                "features": numeric,
            }
        numeric = list(features)
    if len(numeric) < MIN_FEATURES:
        return {
            "supported": False,
            "reason": (
                f"the product has {len(numeric)} numeric feature column(s) "
                f"({', '.join(numeric) or 'none'}); an embedding needs at least {MIN_FEATURES}"
            ),
            "features": numeric,
        }
    return {"supported": True, "reason": "ok", "features": numeric}


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


def run_task(reg: registry.Registry, task: dict[str, Any], cache: FitCache) -> dict[str, Any]:
    """One embedding task, as its user: the fit (or the cached one), its scores, neighbours and
    metrics; and the production product embedded onto the map when one is given."""
    from pzforge.embedding import fit
    from pzforge.embedding import metrics as m

    view = reg.acting_as(task["user"])
    params = task["params"]
    product = task["product_id"]
    support = supported(view, product, params.get("features"))
    if not support["supported"]:
        raise PzforgeError(support["reason"])
    features = support["features"]
    detail, main = _table(view, product)
    key = fit_key(detail.id, main.checksum, params, features)
    up = umap_params(params)
    fitted, cached_in = cache.get(key, up)
    if fitted is None:
        columns = list(
            dict.fromkeys([*features, *([params["label"]] if params.get("label") else [])])
        )
        raw = registry.formats.read_table(main.path, main.format, columns)
        fs = prepare(
            raw,
            features,
            params.get("label"),
            int(params.get("training_data_sample_size", 5000)),
            int(params.get("seed", 42)),
            detail.internal_name,
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
            seconds, time.time(), cache.fits,
        )  # fmt: skip
        cache.put(key, fitted)
    X, Y = fitted.X, fitted.coords
    n = len(X)
    k_top = min(TOP_K, n - 1)
    top = m.neighbours(X, k_top, up["metric"])
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
            "fit_number": fitted.fit_number,
            "fits_in_this_worker": cache.fits,
            "fit_seconds": round(fitted.fit_seconds, 3),
            "fitted_at": fitted.fitted_at,
            "rows": n,
        },
    }
    if task.get("production_product_id"):
        result["production"] = _production(view, task, params, fitted, up)
    return result


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


def _production(view, task, params, fitted: FittedMap, up) -> dict[str, Any]:
    """The production product's rows, scaled as the training rows were, on the trained map."""
    from pzforge.embedding import features as feat
    from pzforge.embedding import fit
    from pzforge.embedding import metrics as m

    detail, main = _table(view, task["production_product_id"])
    raw = registry.formats.read_table(main.path, main.format)
    absent = [c for c in fitted.features if c not in raw.columns]
    if absent:
        raise PzforgeError(
            f"the production product {detail.internal_name} lacks feature column(s) "
            f"{', '.join(absent)} of the trained map"
        )
    table, dropped = feat.build_features(
        raw, {"columns": fitted.features, "sentinels": [99, -99]}, detail.internal_name
    )
    valid = np.flatnonzero(table.notna().all(axis=1).to_numpy())
    size = int(params.get("production_data_sample_size", 1000))
    if len(valid) > size:
        rng = np.random.default_rng(int(params.get("seed", 42)))
        valid = np.sort(rng.choice(valid, size=size, replace=False))
    Xp = (table.iloc[valid].to_numpy(dtype="float64") - fitted.mean) / fitted.std
    Yp = fit.umap_transform(fitted.model, Xp)
    out: dict[str, Any] = {
        "product_id": detail.id,
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
