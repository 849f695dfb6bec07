"""Features of an embedding: chosen columns, or colours from magnitudes (or fluxes), cleaned.

Rows with a missing value (NaN, +-inf, a sentinel such as 99 or -99, a non-positive flux) in any
feature input are dropped and counted per reason; the remaining rows are sampled (seeded) and
standardised (zero mean, unit variance per feature, computed on the sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pzforge.errors import InputDataError

# AB zero points: m = -2.5 log10(f) + ZP for a flux f in the given unit.
FLUX_ZERO_POINTS = {"uJy": 23.9, "nJy": 31.4, "mJy": 16.4, "Jy": 8.9}


@dataclass
class FeatureSet:
    """The sampled rows: standardised features plus what travels with them to the outputs."""

    X: np.ndarray
    names: list[str]
    meta: pd.DataFrame  # id, then z / survey / labels when configured (same row order as X)
    stats: dict[str, Any] = field(default_factory=dict)


def feature_inputs(features: dict[str, Any]) -> list[str]:
    """The catalog columns the features are built from."""
    return (
        list(features.get("columns") or [])
        + list(features.get("magnitudes") or [])
        + list(features.get("fluxes") or [])
    )


def colour_pairs(bands: list[str], mode: str) -> list[tuple[str, str]]:
    """Colour pairs: adjacent bands in the given order (``adjacent``) or every pair (``all_pairs``)."""
    if mode == "adjacent":
        return list(zip(bands[:-1], bands[1:], strict=True))
    if mode == "all_pairs":
        return [(a, b) for i, a in enumerate(bands) for b in bands[i + 1 :]]
    raise ValueError(f"unknown colour mode {mode!r}; use adjacent or all_pairs")


def _short(name: str) -> str:
    for prefix in ("mag_", "f_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def build_features(
    raw: pd.DataFrame, features: dict[str, Any], source: str = "input"
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Feature table (one column per feature, raw units) and the invalid-row mask reasons.

    Returns ``(table, dropped)`` where ``table`` has every input row (NaN where invalid) and
    ``dropped`` counts rows by the first reason they are unusable.
    """
    sentinels = [float(s) for s in features.get("sentinels", [99, -99])]
    missing = [c for c in feature_inputs(features) if c not in raw.columns]
    if missing:
        raise InputDataError(
            f"{source}: feature column {missing[0]!r} not found; columns are: "
            f"{', '.join(map(str, raw.columns[:60]))}"
        )
    bad = pd.Series("", index=raw.index, dtype=object)

    def clean(col: str, *, flux: bool = False) -> pd.Series:
        values = pd.to_numeric(raw[col], errors="coerce").astype("float64")
        reasons = [
            (values.isna(), "not a number"),
            (np.isinf(values), "infinite"),
            (values.isin(sentinels), "a sentinel value"),
        ]
        if flux:
            reasons.append((values <= 0, "a non-positive flux"))
        for mask, why in reasons:
            hit = mask.to_numpy() & (bad == "").to_numpy()
            bad[hit] = f"{col} is {why}"
        return values.where(~np.isinf(values) & ~values.isin(sentinels))

    table: dict[str, pd.Series] = {}
    for col in features.get("columns") or []:
        table[col] = clean(col)
    mags: dict[str, pd.Series] = {}
    for col in features.get("magnitudes") or []:
        mags[_short(col)] = clean(col)
    zp = FLUX_ZERO_POINTS[features.get("flux_unit", "uJy")]
    for col in features.get("fluxes") or []:
        flux = clean(col, flux=True)
        mags[_short(col)] = -2.5 * np.log10(flux.where(flux > 0)) + zp
    if mags:
        for a, b in colour_pairs(list(mags), features.get("colours", "adjacent")):
            table[f"{a}-{b}"] = mags[a] - mags[b]
        ref = features.get("include_magnitude")
        if ref:
            table[f"mag_{_short(ref)}"] = mags[_short(ref)]
    out = pd.DataFrame(table, index=raw.index)
    dropped = {k: int(v) for k, v in bad[bad != ""].value_counts().sort_index().items()}
    out[(bad != "").to_numpy()] = np.nan
    return out, dropped


def prepare(
    raw: pd.DataFrame,
    *,
    features: dict[str, Any],
    columns: dict[str, Any],
    sampling: dict[str, Any],
    source: str = "input",
    min_rows: int = 20,
) -> FeatureSet:
    """Build, clean, sample and standardise the features of ``raw``.

    ``columns`` names the id, redshift, survey and label columns (each may be null / empty).
    """
    table, dropped = build_features(raw, features, source)
    meta = pd.DataFrame(index=raw.index)
    if columns.get("id"):
        meta["id"] = raw[columns["id"]]
        if not meta["id"].is_unique:
            dup = meta["id"][meta["id"].duplicated()].iloc[0]
            raise InputDataError(f"{source}: id column {columns['id']!r} repeats the value {dup!r}")
    else:
        meta["id"] = np.arange(len(raw), dtype="int64")
    if columns.get("redshift"):
        z = pd.to_numeric(raw[columns["redshift"]], errors="coerce").astype("float64")
        bad_z = (
            ~np.isfinite(z) | (z < 0) | z.isin([float(s) for s in features.get("sentinels", [])])
        )
        fresh = bad_z.to_numpy() & table.notna().all(axis=1).to_numpy()
        if fresh.any():
            dropped[f"{columns['redshift']} is missing or negative"] = int(fresh.sum())
        table[bad_z.to_numpy()] = np.nan
        meta["z"] = z
    if columns.get("survey"):
        meta["survey"] = raw[columns["survey"]].astype("string")
    for label in columns.get("labels") or []:
        meta[label] = raw[label]
    valid = table.notna().all(axis=1).to_numpy()
    n_valid = int(valid.sum())
    if n_valid < min_rows:
        raise InputDataError(
            f"{source}: only {n_valid} of {len(raw)} rows have valid values in every feature "
            f"(dropped: {dropped}); at least {min_rows} are needed - check the feature columns "
            "and the sentinels"
        )
    idx = np.flatnonzero(valid)
    size = int(sampling["sample_size"])
    if n_valid > size:
        rng = np.random.default_rng(int(sampling["seed"]))
        idx = np.sort(rng.choice(idx, size=size, replace=False))
    X = table.iloc[idx].to_numpy(dtype="float64")
    mean, std = X.mean(axis=0), X.std(axis=0)
    constant = [n for n, s in zip(table.columns, std, strict=True) if s == 0]
    if constant:
        raise InputDataError(
            f"{source}: feature {constant[0]!r} has the same value in every sampled row; drop it"
        )
    if features.get("standardize", True):
        X = (X - mean) / std
    stats = {
        "rows_in": len(raw),
        "rows_valid": n_valid,
        "rows_dropped": len(raw) - n_valid,
        "dropped": dropped,
        "rows_sampled": len(idx),
        "features": list(table.columns),
        "feature_mean": dict(zip(table.columns, mean.round(12).tolist(), strict=True)),
        "feature_std": dict(zip(table.columns, std.round(12).tolist(), strict=True)),
    }
    return FeatureSet(X, list(table.columns), meta.iloc[idx].reset_index(drop=True), stats)
