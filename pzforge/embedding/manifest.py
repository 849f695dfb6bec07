"""The product an embedding run registers: Validation Results (coordinates, metrics, plots)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pzforge.config import RegistrySettings
from pzforge.io import read_json
from pzforge.products.manifest import ColumnAssociation, ProductManifest
from registry import VALIDATION_RESULTS


def embedding_columns(meta_cols: list[str], n_components: int) -> list[ColumnAssociation]:
    roles = {
        "id": ("id", "meta.id;meta.main", None),
        "z": ("z", "src.redshift", None),
        "survey": ("survey", None, None),
    }
    cols = []
    for name in meta_cols:
        role, ucd, unit = roles.get(name, ("other", None, None))
        cols.append(ColumnAssociation(name=name, role=role, ucd=ucd, unit=unit))
    for prefix in ("umap", "pca"):
        cols += [
            ColumnAssociation(name=f"{prefix}_{i + 1}", role="other") for i in range(n_components)
        ]
    cols += [
        ColumnAssociation(name="knn_preservation", role="other"),
        ColumnAssociation(name="knn_preservation_pca", role="other"),
    ]
    return cols


def embedding_manifest(
    *,
    embedding_parquet: str | Path,
    aux_files: list[str | Path],
    metrics_json: str | Path,
    settings: RegistrySettings,
    run_name: str,
) -> ProductManifest:
    """The Validation Results product: embedding table (main file), metrics, plots, HTML."""
    data = read_json(metrics_json)
    src = data["input"]["source"]
    u = data["umap"]
    t15 = data["metrics"]["umap"]["trustworthiness"]
    t_text = ", ".join(f"T@{k}={t15[k]:.3f}" for k in sorted(t15, key=int))
    what = src.get("product_name") or Path(src["path"]).name
    description = settings.description or (
        f"UMAP embedding (metric={u['metric']}, n_neighbors={u['n_neighbors']}, "
        f"min_dist={u['min_dist']}, {u['n_components']}D, seed {u['random_state']}) of "
        f"{data['input']['rows_sampled']} objects of {what} on features "
        f"{', '.join(data['features'])}, with quality metrics against a PCA baseline ({t_text}). "
        "Main file: coordinates with ids, labels and per-point kNN preservation; auxiliary: "
        "metrics JSON, PNG plots and an offline interactive HTML plot. Made by pzforge embedding."
    )
    meta_cols = [c for c in pd.read_parquet(embedding_parquet).columns]
    meta_cols = [c for c in meta_cols if not c.startswith(("umap_", "pca_", "knn_preservation"))]
    return ProductManifest(
        key="embedding",
        name=settings.product_name or run_name,
        product_type=VALIDATION_RESULTS,
        main_file=str(embedding_parquet),
        aux_files=[str(p) for p in aux_files],
        description=description,
        columns=embedding_columns(meta_cols, int(u["n_components"])),
        release=settings.release,
        derived_from=[int(src["product_id"])] if src.get("product_id") is not None else [],
    )
