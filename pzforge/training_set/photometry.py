"""Photometry of a Training Set: band columns, fluxes to AB magnitudes, non-detections, dereddening.

Fluxes in nanojansky (LSST) or microjansky (e.g. ASTRODEEP) become AB magnitudes::

    mag    = -2.5 log10(f) + ZP        ZP = 31.4 (nJy), 23.9 (uJy), 8.9 (Jy)
    magerr = 2.5 / ln(10) * ferr / f

Every band value falls in exactly one class, counted per band:

- ``measured``: a finite, positive flux (or a finite magnitude that is no sentinel);
- ``no_measurement``: NaN or one of ``missing_values`` (e.g. -99, or 0 in ASTRODEEP): the object
  was not observed in that band. Its magnitude is NaN (or the sentinel when the policy is
  ``sentinel``);
- ``non_detection``: observed but not detected - a flux <= 0, a flux below ``min_snr`` times its
  error, or (magnitude inputs) one of ``nondetection_values`` such as 99. The policy says what its
  magnitude becomes: ``nan``; ``sentinel`` (mag = magerr = ``sentinel``); ``upper_limit`` (mag =
  the ``upper_limit_nsigma``-sigma limit -2.5 log10(n * ferr) + ZP, magerr = NaN, so a finite
  magnitude with a NaN error marks a limit). An upper limit needs a positive flux error; without
  one the value is counted as ``no_limit`` and set to NaN.

The class is written as ``status_<band>`` (int8: 0 measured, 1 non-detection, 2 no
measurement), so a limit or a sentinel is never mistaken for a measurement downstream (RAIL
export, embeddings) whatever the policy.

Dereddening subtracts ``R_band * E(B-V)`` from every finite magnitude (limits included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pzforge.errors import ConfigError, InputDataError

ZERO_POINTS = {"nJy": 31.4, "uJy": 23.9, "mJy": 16.4, "Jy": 8.9}
MAG_PREFIX, MAGERR_PREFIX = "mag_", "magerr_"
STATUS_PREFIX = "status_"  # status_<band>: int8 class of the band value, below
MEASURED, NON_DETECTION, NO_MEASUREMENT = 0, 1, 2
_ERR_FACTOR = 2.5 / math.log(10.0)


def flux_to_mag(
    flux: np.ndarray, flux_err: np.ndarray | None = None, unit: str = "nJy"
) -> tuple[np.ndarray, np.ndarray]:
    """AB magnitudes and errors of fluxes in ``unit``; NaN where the flux is not positive."""
    if unit not in ZERO_POINTS:
        raise ConfigError(f"unknown flux unit {unit!r}; use one of {', '.join(ZERO_POINTS)}")
    flux = np.asarray(flux, dtype="float64")
    positive = np.isfinite(flux) & (flux > 0)
    safe = np.where(positive, flux, 1.0)
    mag = np.where(positive, -2.5 * np.log10(safe) + ZERO_POINTS[unit], np.nan)
    if flux_err is None:
        return mag, np.full_like(mag, np.nan)
    err = np.asarray(flux_err, dtype="float64")
    ok = positive & np.isfinite(err) & (err >= 0)
    magerr = np.where(ok, _ERR_FACTOR * np.where(ok, err, 0.0) / safe, np.nan)
    return mag, magerr


def upper_limit_mag(flux_err: np.ndarray, nsigma: float, unit: str = "nJy") -> np.ndarray:
    """The n-sigma limiting magnitude -2.5 log10(n * ferr) + ZP; NaN where ferr is not positive."""
    err = np.asarray(flux_err, dtype="float64")
    ok = np.isfinite(err) & (err > 0)
    return np.where(
        ok, -2.5 * np.log10(np.where(ok, nsigma * err, 1.0)) + ZERO_POINTS[unit], np.nan
    )


def band_columns(settings: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """band -> (value column, error column or None) from the configured name templates."""
    out = {}
    for band in settings.get("bands") or []:
        fields = {"band": band, "flux_type": settings.get("flux_type") or ""}
        value = settings["value_column"].format(**fields)
        err_t = settings.get("error_column")
        out[band] = (value, err_t.format(**fields) if err_t else None)
    return out


def check_band_columns(settings: dict[str, Any], available: list[str], where: str) -> None:
    """Every requested band has its columns; the message names the band and the columns."""
    missing = []
    for band, (value, err) in band_columns(settings).items():
        absent = [c for c in (value, err) if c and c not in available]
        if absent:
            missing.append(f"band {band!r} ({', '.join(repr(c) for c in absent)})")
    if missing:
        near = [c for c in available if any(b in c for b in (settings.get("bands") or []))][:12]
        raise InputDataError(
            f"{where}: missing photometry columns for {'; '.join(missing)}; check "
            "photometry.bands, flux_type and value_column/error_column"
            + (f" (columns with band names: {', '.join(near)})" if near else "")
        )


@dataclass
class PhotometryStats:
    """Per band: how many values were measured, missing, non-detected (and limits)."""

    bands: dict[str, dict[str, int]] = field(default_factory=dict)
    dereddened: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"bands": self.bands, "dereddened": self.dereddened}


def classify(
    values: np.ndarray, errors: np.ndarray | None, settings: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Masks (no_measurement, non_detection) of one band's values."""
    values = np.asarray(values, dtype="float64")
    missing = ~np.isfinite(values) | np.isin(
        values, np.asarray(settings.get("missing_values") or [], float)
    )
    if settings.get("quantity", "flux") == "magnitude":
        nondet = np.isin(values, np.asarray(settings.get("nondetection_values") or [], float))
        return missing, nondet & ~missing
    nondet = values <= 0
    snr = settings.get("min_snr")
    if snr is not None and errors is not None:
        err = np.asarray(errors, dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            nondet |= np.isfinite(err) & (err > 0) & (values < snr * err)
    return missing, nondet & ~missing


def compute_magnitudes(
    df: pd.DataFrame, phot: dict[str, Any], mags: dict[str, Any]
) -> tuple[pd.DataFrame, PhotometryStats]:
    """``mag_<band>`` / ``magerr_<band>`` for every configured band, with the non-detection policy.

    ``phot`` is the config's ``photometry`` block, ``mags`` its ``magnitudes`` block. Returns a
    frame of the new columns (same index as ``df``) and per-band counts.
    """
    stats = PhotometryStats()
    out = pd.DataFrame(index=df.index)
    policy = mags["non_detection"]
    sentinel = float(mags["sentinel"])
    unit = phot.get("flux_unit", "nJy")
    for band, (vcol, ecol) in band_columns(phot).items():
        values = df[vcol].to_numpy(dtype="float64", na_value=np.nan)
        errors = df[ecol].to_numpy(dtype="float64", na_value=np.nan) if ecol else None
        missing, nondet = classify(values, errors, phot)
        if phot.get("quantity", "flux") == "flux":
            mag, magerr = flux_to_mag(values, errors, unit)
        else:
            mag = values.copy()
            magerr = errors.copy() if errors is not None else np.full_like(mag, np.nan)
            bad_err = (
                ~np.isfinite(magerr)
                | (magerr < 0)
                | np.isin(magerr, np.asarray(phot.get("missing_values") or [], float))
                | np.isin(magerr, np.asarray(phot.get("nondetection_values") or [], float))
            )
            magerr[bad_err] = np.nan
        counts = {"measured": int((~missing & ~nondet).sum()), "no_measurement": int(missing.sum())}
        counts["non_detection"] = int(nondet.sum())
        mag[missing | nondet] = np.nan
        magerr[missing | nondet] = np.nan
        if policy == "sentinel":
            mag[missing | nondet] = sentinel
            magerr[missing | nondet] = sentinel
        elif policy == "upper_limit":
            limit = upper_limit_mag(errors, float(mags["upper_limit_nsigma"]), unit)
            mag[nondet] = limit[nondet]
            counts["upper_limit"] = int(np.isfinite(limit[nondet]).sum())
            counts["no_limit"] = int((~np.isfinite(limit[nondet])).sum())
        out[MAG_PREFIX + band] = mag
        out[MAGERR_PREFIX + band] = magerr
        status = np.full(len(values), MEASURED, dtype=np.int8)
        status[nondet] = NON_DETECTION
        status[missing] = NO_MEASUREMENT
        out[STATUS_PREFIX + band] = status
        stats.bands[band] = counts
    dered = mags.get("dereddening") or {}
    if dered.get("enabled"):
        out = deredden(out, df, dered, sentinel if policy == "sentinel" else None)
        stats.dereddened = True
    return out, stats


def deredden(
    mags: pd.DataFrame, source: pd.DataFrame, settings: dict[str, Any], sentinel: float | None
) -> pd.DataFrame:
    """Subtract ``R_band * E(B-V)`` from the finite magnitudes (sentinels are left alone)."""
    col = settings["ebv_column"]
    if col not in source.columns:
        raise InputDataError(
            f"dereddening: E(B-V) column {col!r} not in the photometric catalog; set "
            "magnitudes.dereddening.ebv_column or disable dereddening"
        )
    ebv = source[col].to_numpy(dtype="float64", na_value=np.nan)
    out = mags.copy()
    coefficients = settings.get("coefficients") or {}
    for name in [c for c in mags.columns if c.startswith(MAG_PREFIX)]:
        band = name[len(MAG_PREFIX) :]
        if band not in coefficients:
            raise ConfigError(
                f"dereddening: no coefficient for band {band!r}; add it to "
                "magnitudes.dereddening.coefficients (A_band / E(B-V))"
            )
        mag = out[name].to_numpy(dtype="float64", copy=True)
        ok = np.isfinite(mag) & np.isfinite(ebv)
        if sentinel is not None:
            ok &= mag != sentinel
        mag[ok] -= float(coefficients[band]) * ebv[ok]
        out[name] = mag
    return out
