"""Whether a product can be embedded and why not (hydro-vis's ``supported``), and a product as a
task's input: its main file, checksum and feature columns, read from the registry (on the
submitting host or by the API; never in a job)."""

from __future__ import annotations

from typing import Any

import pandas as pd

import registry
from pzforge.errors import PzforgeError

MIN_FEATURES = 2


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


def task_input(
    reg: registry.Registry, ref: int | str, features: list[str] | None = None, *, fit: bool = True
) -> dict[str, Any]:
    """A product as a task reads it: id, name, main file (path, format, checksum) and, for the
    product a map is fitted on (``fit``), the feature columns it gives (PzforgeError with the
    reason when it cannot be embedded). A production product only needs the map's features,
    which the job checks."""
    support = supported(reg, ref, features) if fit else {"supported": True, "features": []}
    if not support["supported"]:
        raise PzforgeError(support["reason"])
    detail, main = _table(reg, ref)
    return {
        "product_id": detail.id,
        "internal_name": detail.internal_name,
        "path": str(main.path),
        "format": main.format,
        "checksum": main.checksum,
        "features": support["features"],
    }
