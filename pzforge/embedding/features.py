"""Features of an embedding: chosen columns, or colours from magnitudes (or fluxes), cleaned.

Rows with a missing value (NaN, +-inf, a sentinel such as 99 or -99, a non-positive flux) in any
feature input are dropped and counted per reason; so are rows where a magnitude is a
non-detection or an upper limit (``features.exclude_limits``): ``status_<band>`` not 0 (the
Training Set Maker's flag), or a finite magnitude whose error (``magerr_<band>``,
``mag_err_<band>``, ``<column>_err``) is missing, not positive or a sentinel. A limit is never
embedded as a measurement. A redshift that is missing, negative or a survey placeholder
(``columns.redshift_sentinels``, e.g. 9.9999) drops the row too. The remaining rows are sampled
(seeded) and standardised (zero mean, unit variance per feature, computed on the sample).
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


def is_sentinel(values: np.ndarray, sentinels: list[float]) -> np.ndarray:
    """Equal to a sentinel to a relative 1e-6 (float32-stored 9.9999 is 9.9999); the Training
    Set Maker compares its z_sentinels the same way."""
    values = np.asarray(values, dtype="float64")
    hit = np.zeros(values.shape, dtype=bool)
    for s in sentinels:
        with np.errstate(invalid="ignore"):
            hit |= np.abs(values - float(s)) <= 1e-6 * max(abs(float(s)), 1.0)
    return hit


def _band(column: str) -> str | None:
    return column[len("mag_") :] if column.startswith("mag_") else None


def limit_columns(features: dict[str, Any], available: list[str]) -> dict[str, dict[str, str]]:
    """For each magnitude feature, the columns that tell a limit from a measurement, if present:
    ``status`` (``status_<band>``) and ``error`` (``magerr_<band>``, ``mag_err_<band>``,
    ``<column>_err``, the first found). Empty when ``exclude_limits`` is off."""
    if not features.get("exclude_limits", True):
        return {}
    have = set(available)
    out: dict[str, dict[str, str]] = {}
    for col in features.get("magnitudes") or []:
        band = _band(col)
        found: dict[str, str] = {}
        if band and f"status_{band}" in have:
            found["status"] = f"status_{band}"
        errors = [f"magerr_{band}", f"mag_err_{band}"] if band else []
        for err in [*errors, f"{col}_err"]:
            if err in have:
                found["error"] = err
                break
        if found:
            out[col] = found
    return out


def _short(name: str) -> str:
    for prefix in ("mag_", "f_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def build_features(
    raw: pd.DataFrame,
    features: dict[str, Any],
    source: str = "input",
    limits: dict[str, dict[str, str]] | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Feature table (one column per feature, raw units) and the invalid-row mask reasons.

    ``limits`` (``limit_columns``) names, per magnitude, the status / error columns of ``raw``
    that mark non-detections and upper limits. Returns ``(table, dropped)`` where ``table`` has
    every input row (NaN where invalid) and ``dropped`` counts rows by the first reason they
    are unusable.
    """
    sentinels = [float(s) for s in features.get("sentinels", [99, -99])]
    missing = [c for c in feature_inputs(features) if c not in raw.columns]
    if missing:
        raise InputDataError(
            f"{source}: feature column {missing[0]!r} not found; columns are: "
            f"{', '.join(map(str, raw.columns[:60]))}"
        )
    bad = pd.Series("", index=raw.index, dtype=object)
    limits = limits or {}

    def clean(col: str, *, flux: bool = False) -> pd.Series:
        values = pd.to_numeric(raw[col], errors="coerce").astype("float64")
        reasons = [
            (values.isna(), "not a number"),
            (np.isinf(values), "infinite"),
            (pd.Series(is_sentinel(values, sentinels), index=values.index), "a sentinel value"),
        ]
        if flux:
            reasons.append((values <= 0, "a non-positive flux"))
        marks = limits.get(col, {})
        if "status" in marks:
            status = pd.to_numeric(raw[marks["status"]], errors="coerce")
            reasons.append((status != 0, f"a non-detection ({marks['status']} not 0)"))
        if "error" in marks:
            err = pd.to_numeric(raw[marks["error"]], errors="coerce").astype("float64")
            no_err = ~np.isfinite(err) | (err <= 0) | is_sentinel(err, sentinels)
            reasons.append((no_err, f"an upper limit (no valid {marks['error']})"))
        for mask, why in reasons:
            hit = np.asarray(mask, dtype=bool) & (bad == "").to_numpy()
            bad[hit] = f"{col} is {why}"
        return values.where(~np.isinf(values) & ~is_sentinel(values, sentinels))

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
    limits: dict[str, dict[str, str]] | None = None,
    check_rows=None,
) -> FeatureSet:
    """Build, clean, sample and standardise the features of ``raw``.

    ``columns`` names the id, redshift, survey and label columns (each may be null / empty).
    ``check_rows(n, dropped)``, when given, is called with the number of rows that will be
    embedded before anything else is done with them (the settings that need enough rows).
    """
    table, dropped = build_features(raw, features, source, limits)
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
        z_sentinels = columns.get("redshift_sentinels", features.get("sentinels", []))
        bad_z = ~np.isfinite(z) | (z < 0) | is_sentinel(z, z_sentinels)
        fresh = np.asarray(bad_z, dtype=bool) & table.notna().all(axis=1).to_numpy()
        if fresh.any():
            label = f"{columns['redshift']} is missing, negative or a placeholder (sentinel)"
            dropped[label] = int(fresh.sum())
        table[np.asarray(bad_z, dtype=bool)] = np.nan
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
    if check_rows is not None:
        check_rows(min(n_valid, int(sampling["sample_size"])), dropped)
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
