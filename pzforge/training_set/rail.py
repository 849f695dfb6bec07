"""A training set in the layout RAIL's informers read with their default configuration.

What RAIL reads (LSST DESC RAIL; checked against pz-rail-base 2.0.11 and tables_io 1.1.3, see
/work/research/rail.md and docs/training_set.md "RAIL"):

- ``rail/core/common_params.py`` SHARED_PARAMS: ``hdf5_groupname="photometry"``,
  ``redshift_col="redshift"``, ``bands=[mag_{b}_lsst]``, ``err_bands=[mag_err_{b}_lsst]`` for
  b in ugrizy, ``ref_band="mag_i_lsst"``, ``nondetect_val=99.0``, ``nonobserved_val=-99.0``,
  ``mag_limits`` keyed by band column, ``id_col="object_id"`` (estimators only);
- files go through ``tables_io.read``, which picks the format from the suffix
  (``tables_io/types.py``): ``.hdf5`` is read with h5py as ``{group: {column: array}}``, so the
  file is a group ``photometry/`` of 1-D datasets (a pandas HDFStore is not usable); ``.pq`` is
  read as a pandas DataFrame (flat; the stage then needs ``hdf5_groupname=""``), while
  ``.parquet`` would give a pyarrow Table that informers reject.

Magnitudes: a measurement keeps its magnitude and error; a non-detection (``status_<band>`` 1)
becomes ``nondetect_val`` 99.0 with the band's limiting magnitude as its error (the layout of
RAIL's own DC2 example file, and what BPZ expects); a band with no measurement (status 2) is, by
``no_measurement``: ``drop`` (the row leaves the RAIL file; KNN, SklNeurNet and FlexZBoost would
read -99 as a magnitude), ``nonobserved`` (-99.0, RAIL's ``nonobserved_val``, which BPZ handles)
or ``nondetection`` (99.0 like a non-detection). A measured value without a usable error drops
the row (BPZ and FlexZBoost need errors). No NaN is ever written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pzforge.errors import InputDataError
from pzforge.io import atomic_path, write_json
from pzforge.io.export import write_hdf5_columns
from pzforge.training_set.photometry import (
    MAG_PREFIX,
    MAGERR_PREFIX,
    MEASURED,
    NO_MEASUREMENT,
    NON_DETECTION,
    STATUS_PREFIX,
)

LSST_BANDS = ("u", "g", "r", "i", "z", "y")
NONDETECT_VAL = 99.0  # RAIL's SHARED_PARAMS nondetect_val
NONOBSERVED_VAL = -99.0  # RAIL's SHARED_PARAMS nonobserved_val
SUFFIXES = {"hdf5": ".hdf5", "pq": ".pq"}  # tables_io picks the reader from these
_ERR_FACTOR = 2.5 / math.log(10.0)


def rail_path(directory: str | Path, key: str, fmt: str) -> Path:
    """``<key>_rail.hdf5`` or ``<key>_rail.pq`` (the suffix decides how RAIL reads it)."""
    return Path(directory) / f"{key}_rail{SUFFIXES[fmt]}"


def column_names(bands: list[str], settings: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """band -> (magnitude column, error column) in the RAIL file.

    Null templates: RAIL's own names (``mag_{band}_lsst``) when every band is an LSST band,
    else ``mag_{band}`` / ``mag_err_{band}`` (an ``_lsst`` suffix on other bands would mislead).
    """
    lsst = all(b in LSST_BANDS for b in bands)
    mag_t = settings.get("magnitude_column") or ("mag_{band}_lsst" if lsst else "mag_{band}")
    err_t = settings.get("error_column") or ("mag_err_{band}_lsst" if lsst else "mag_err_{band}")
    return {b: (mag_t.format(band=b), err_t.format(band=b)) for b in bands}


def reference_band(bands: list[str], configured: str | None) -> str:
    """RAIL's ``ref_band`` (the magnitude used besides colours): configured, i, or the middle."""
    if configured:
        return configured
    return "i" if "i" in bands else bands[len(bands) // 2]


def limiting_magnitudes(table: pd.DataFrame, bands: list[str]) -> dict[str, float | None]:
    """Per band, the median 1-sigma limiting magnitude of the measured objects.

    For a measurement m with error e the 1-sigma limit is m + 2.5 log10(S/N), S/N = 1.0857 / e
    (the magnitude of a flux equal to its error). None when no measured value has an error.
    """
    out: dict[str, float | None] = {}
    for band in bands:
        mag = table[MAG_PREFIX + band].to_numpy(dtype="float64", na_value=np.nan)
        err = table[MAGERR_PREFIX + band].to_numpy(dtype="float64", na_value=np.nan)
        ok = (table[STATUS_PREFIX + band].to_numpy() == MEASURED) & np.isfinite(mag)
        ok &= np.isfinite(err) & (err > 0)
        depth = mag[ok] + 2.5 * np.log10(_ERR_FACTOR / err[ok])
        out[band] = round(float(np.median(depth)), 4) if ok.any() else None
    return out


def rail_table(
    table: pd.DataFrame, bands: list[str], settings: Mapping[str, Any]
) -> tuple[pa.Table, dict[str, Any]]:
    """The RAIL columns of a training set and what a stage needs to read them.

    Returns the Arrow table (id, redshift, magnitude and error per band, subset when present)
    and a report: ``stage_config`` (the keyword arguments of a RAIL stage), rows, drops.
    """
    missing = [
        f"{p}{b}"
        for b in bands
        for p in (MAG_PREFIX, MAGERR_PREFIX, STATUS_PREFIX)
        if f"{p}{b}" not in table.columns
    ]
    if missing:
        raise InputDataError(
            f"training set: column {', '.join(missing[:6])} not found; the RAIL output needs "
            "magnitudes (magnitudes.compute: true) and an error column for every band "
            "(photometry.error_column)"
        )
    names = column_names(bands, settings)
    limits = limiting_magnitudes(table, bands)
    limits |= {b: float(v) for b, v in (settings.get("mag_limits") or {}).items() if b in names}
    no_limit = [b for b in bands if limits.get(b) is None]
    if no_limit and len(table):  # an empty (allow_empty) training set has no depth to measure
        raise InputDataError(
            f"training set: no measured magnitude with an error in band {', '.join(no_limit)}, "
            "so its limiting magnitude is unknown; set output.rail.mag_limits "
            f"(e.g. {{{no_limit[0]}: 27.0}})"
        )
    n = len(table)
    keep = np.ones(n, dtype=bool)
    dropped = {"no measurement in a band": 0, "measured without an error": 0}
    columns: dict[str, np.ndarray] = {}
    policy = settings.get("no_measurement", "drop")
    for band in bands:
        status = table[STATUS_PREFIX + band].to_numpy()
        mag = table[MAG_PREFIX + band].to_numpy(dtype="float64", na_value=np.nan).copy()
        err = table[MAGERR_PREFIX + band].to_numpy(dtype="float64", na_value=np.nan).copy()
        measured = status == MEASURED
        no_err = measured & ~(np.isfinite(err) & (err >= 0) & np.isfinite(mag))
        dropped["measured without an error"] += int((no_err & keep).sum())
        keep &= ~no_err
        nondet = status == NON_DETECTION
        if policy == "nondetection":
            nondet |= status == NO_MEASUREMENT
        mag[nondet], err[nondet] = NONDETECT_VAL, limits[band] or np.nan
        unobserved = status == NO_MEASUREMENT
        if policy == "drop":
            dropped["no measurement in a band"] += int((unobserved & keep).sum())
            keep &= ~unobserved
        elif policy == "nonobserved":
            mag[unobserved], err[unobserved] = NONOBSERVED_VAL, NONOBSERVED_VAL
        mag_name, err_name = names[band]
        columns[mag_name], columns[err_name] = mag, err
    id_col, z_col = (
        settings.get("id_column", "object_id"),
        settings.get("redshift_column", "redshift"),
    )
    data = {
        id_col: pa.array(table["id"].astype("string").to_numpy(dtype=object)[keep], pa.string()),
        z_col: pa.array(table["z"].to_numpy(dtype="float64")[keep]),
    }
    for band in bands:
        for name in names[band]:
            data[name] = pa.array(columns[name][keep])
    if "subset" in table.columns:
        subset = table["subset"].astype("string").to_numpy(dtype=object)[keep]
        data["subset"] = pa.array(subset, pa.string())
    group = settings.get("group", "photometry") if settings.get("format", "hdf5") == "hdf5" else ""
    ref = reference_band(bands, settings.get("ref_band"))
    stage_config = {
        "hdf5_groupname": group,
        "redshift_col": z_col,
        "id_col": id_col,
        "bands": [names[b][0] for b in bands],
        "err_bands": [names[b][1] for b in bands],
        "ref_band": names[ref][0],
        "mag_limits": {names[b][0]: limits[b] for b in bands},
        "nondetect_val": NONDETECT_VAL,
        "nonobserved_val": NONOBSERVED_VAL,
    }
    report = {
        "stage_config": stage_config,
        "rows_in": n,
        "rows": int(keep.sum()),
        "dropped": {k: v for k, v in dropped.items() if v},
        "no_measurement": policy,
    }
    return pa.table(data), report


def write_rail(
    parquet: str | Path,
    bands: list[str],
    settings: Mapping[str, Any],
    out_file: str | Path,
    out_json: str | Path,
) -> dict[str, Any]:
    """Write the RAIL file (HDF5 group or flat ``.pq``) and its JSON report; return the report."""
    table = pq.read_table(parquet).to_pandas()
    arrow, report = rail_table(table, bands, settings)
    fmt = settings.get("format", "hdf5")
    out_file = Path(out_file)
    if out_file.suffix != SUFFIXES[fmt]:  # tables_io would read another suffix differently
        raise InputDataError(f"{out_file}: a RAIL {fmt} file must end in {SUFFIXES[fmt]}")
    with atomic_path(out_file) as tmp:
        if fmt == "hdf5":
            write_hdf5_columns(arrow, tmp, report["stage_config"]["hdf5_groupname"])
        else:
            pq.write_table(arrow, tmp, compression="zstd")
    report["file"] = out_file.name
    report["format"] = fmt
    write_json(report, out_json)
    return report
