"""A fitted UMAP map kept without pickle: rebuilt from its scaled rows and stored coordinates, it
embeds new rows exactly where the original model does; the site's artefact of a fit is plain
arrays (no pickle accepted when read), checked by checksum, and an altered one is fitted again."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pzforge.embedding import fit
from registry.hashing import sha256_file

PARAMS = {"metric": "euclidean", "n_neighbors": 10, "min_dist": 0.1, "n_components": 2,
          "random_state": 7, "n_epochs": None}  # fmt: skip


def rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (3, 4))
    return centres[rng.integers(0, 3, n)] + rng.normal(0, 1, (n, 4))


def test_a_rebuilt_map_transforms_new_rows_exactly_as_the_original():
    X, new = rows(300, 1), rows(80, 2)
    model, coords = fit.umap_model(X, PARAMS, for_transform=True)
    expected = fit.umap_transform(model, new)
    rebuilt = fit.umap_rebuild(X, np.array(model.embedding_), PARAMS)
    assert np.array_equal(rebuilt.embedding_, model.embedding_)
    assert np.array_equal(fit.umap_transform(rebuilt, new), expected)
    with pytest.raises(ValueError, match="do not fit 299 rows"):
        fit.umap_rebuild(X[:299], np.array(model.embedding_), PARAMS)


def fitted_map(X: np.ndarray):
    from pzforge.embedding.task import store as embeddings

    model, coords = fit.umap_model(X, PARAMS, for_transform=True)
    meta = pd.DataFrame({"id": np.arange(len(X)), "kind": ["a", "b"] * (len(X) // 2)})
    return embeddings.FittedMap(model, coords, X, ["f1", "f2", "f3", "f4"], meta,
                                np.zeros(4), np.ones(4), 1.5, 1000.0)  # fmt: skip


def test_the_fit_artefact_is_plain_arrays_reused_by_another_process_and_refused_when_altered(
    tmp_path,
):
    from pzforge.embedding.task import store as embeddings

    X, new = rows(200, 3), rows(40, 4)
    original = fitted_map(X)
    first = embeddings.FitCache(folder=tmp_path)
    first.put("k", original)
    files = sorted(p.name for p in (tmp_path / "k").iterdir())
    assert files == ["fit.json", "fit.npz", "meta.parquet"]
    assert not list(tmp_path.glob(".*tmp"))  # written aside, renamed into place
    with np.load(tmp_path / "k" / "fit.npz", allow_pickle=False) as npz:  # no object arrays
        assert sorted(npz.files) == ["X", "embedding", "mean", "std"]

    second = embeddings.FitCache(folder=tmp_path)  # another worker: nothing in its memory
    got, where = second.get("k", PARAMS)
    assert where == "artefact" and second.fits == 0
    assert np.array_equal(got.coords, original.coords)
    assert got.meta.equals(original.meta) and got.fitted_at == 1000.0
    assert np.array_equal(
        fit.umap_transform(got.model, new), fit.umap_transform(original.model, new)
    )
    assert second.get("k", PARAMS)[1] == "memory"

    # altered on disk (or written by anyone but the worker): ignored, so the task fits again
    npz = tmp_path / "k" / "fit.npz"
    np.savez(npz, X=X + 1, embedding=np.array(original.model.embedding_),
             mean=np.zeros(4), std=np.ones(4))  # fmt: skip
    assert embeddings.FitCache(folder=tmp_path).get("k", PARAMS) == (None, "")
    # a pickle in place of the arrays is never loaded (np.load refuses object arrays)
    info = json.loads((tmp_path / "k" / "fit.json").read_text())
    np.savez(npz, X=np.array([{"x": 1}], dtype=object), embedding=np.zeros(1),
             mean=np.zeros(1), std=np.zeros(1))  # fmt: skip
    info["sha256"]["fit.npz"] = sha256_file(npz)
    (tmp_path / "k" / "fit.json").write_text(json.dumps(info))
    assert embeddings.FitCache(folder=tmp_path).get("k", PARAMS) == (None, "")
