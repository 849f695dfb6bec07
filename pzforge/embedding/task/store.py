"""Fitted maps kept per (product, main file checksum, settings): in the process's memory (a few
maps, least recently used dropped) and as server-owned artefacts in a folder (the site's
``embedding_fits/<key>/``), so later tasks, restarted workers and other nodes reuse a fit.

The artefact is plain arrays, never a pickle: a UMAP model can only be saved with pickle/joblib,
and a pickle is code that runs when loaded. It keeps the scaled training rows and umap-learn's
coordinates (``fit.npz``, read with ``allow_pickle=False``), the rows' ids and labels
(``meta.parquet``) and ``fit.json`` (features, feature scaling, umap-learn's version and the
sha256 of both files); ``fit.umap_rebuild`` turns them back into a model that embeds new rows
exactly where the original did. An artefact whose checksums or umap-learn version do not match
is ignored and fitted again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from registry.hashing import sha256_file

log = logging.getLogger("pzforge.embedding")


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
        meta, arrays["mean"], arrays["std"], info["fit_seconds"], info["fitted_at"],
    )  # fmt: skip
