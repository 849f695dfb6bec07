"""Colour-magnitude coverage of a training set against the whole photometric sample.

The colour-magnitude plane (a-b against c, the bands of the summary's diagram) is cut into
cells of ``magnitude_bin`` x ``colour_bin`` mag. Every photometric object measured in the three
bands (status 0: limits and missing values are not positions in the plane) falls in one cell;
so does every training-set row. The figure of merit is the **fraction of photometric objects in
cells with no spectroscopic redshift**: the part of the sample a photo-z trained on this set
has to extrapolate to. The photometry is streamed in batches (memory stays flat) from the
HATS catalog that was crossmatched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from pzforge.training_set import photometry
from pzforge.training_set.photometry import MAG_PREFIX, MEASURED, STATUS_PREFIX

BATCH_ROWS = 500_000


def cell_keys(
    mags: pd.DataFrame, bands: list[str], magnitude_bin: float, colour_bin: float
) -> tuple[np.ndarray, np.ndarray]:
    """(colour, magnitude) cell indices of the rows measured in the three bands a, b, c."""
    a, b, c = bands
    ok = np.ones(len(mags), dtype=bool)
    for band in dict.fromkeys(bands):
        ok &= mags[STATUS_PREFIX + band].to_numpy() == MEASURED
        ok &= np.isfinite(mags[MAG_PREFIX + band].to_numpy(dtype="float64", na_value=np.nan))
    colour = mags[MAG_PREFIX + a].to_numpy(dtype="float64", na_value=np.nan)[ok]
    colour = colour - mags[MAG_PREFIX + b].to_numpy(dtype="float64", na_value=np.nan)[ok]
    mag = mags[MAG_PREFIX + c].to_numpy(dtype="float64", na_value=np.nan)[ok]
    return (
        np.floor(colour / colour_bin).astype(np.int64),
        np.floor(mag / magnitude_bin).astype(np.int64),
    )


def _count(cells: dict[tuple[int, int], int], ci: np.ndarray, mi: np.ndarray) -> None:
    """Add the objects of cells (ci, mi) to ``cells`` (a bincount over the batch's box)."""
    if len(ci) == 0:
        return
    c0, m0 = int(ci.min()), int(mi.min())
    width = int(mi.max()) - m0 + 1
    counts = np.bincount((ci - c0) * width + (mi - m0))
    for flat in np.flatnonzero(counts).tolist():
        key = (flat // width + c0, flat % width + m0)
        cells[key] = cells.get(key, 0) + int(counts[flat])


def photometric_cells(
    phot_hats: str | Path,
    phot: dict[str, Any],
    mags: dict[str, Any],
    bands: list[str],
    renamed: dict[str, str],
    magnitude_bin: float,
    colour_bin: float,
) -> dict[tuple[int, int], int]:
    """Objects per cell over the whole photometric HATS catalog (its raw band columns).

    ``renamed`` maps a source column to its name in the catalog (``phot_<name>`` on a clash).
    """
    settings = {**phot, "bands": list(dict.fromkeys(bands))}
    sources = [col for pair in photometry.band_columns(settings).values() for col in pair if col]
    dered = mags.get("dereddening") or {}
    if dered.get("enabled") and phot.get("ebv_column"):
        sources.append(phot["ebv_column"])
    sources = list(dict.fromkeys(sources))
    stored = {s: renamed.get(s, s) for s in sources}
    files = sorted(str(p) for p in (Path(phot_hats) / "dataset").rglob("*.parquet"))
    cells: dict[tuple[int, int], int] = {}
    if not files:
        return cells
    dataset = pads.dataset(files, format="parquet")
    back = {v: k for k, v in stored.items()}
    for batch in dataset.to_batches(columns=list(stored.values()), batch_size=BATCH_ROWS):
        raw = batch.to_pandas().rename(columns=back)
        new, _ = photometry.compute_magnitudes(raw, settings, mags)
        _count(cells, *cell_keys(new, bands, magnitude_bin, colour_bin))
    return cells


def coverage_summary(
    table: pd.DataFrame,
    phot_cells: dict[tuple[int, int], int],
    bands: list[str],
    magnitude_bin: float,
    colour_bin: float,
) -> dict[str, Any]:
    """The coverage figures (JSON-ready) and the cells both samples occupy, for the plot."""
    spec_cells: dict[tuple[int, int], int] = {}
    if len(table):
        _count(spec_cells, *cell_keys(table, bands, magnitude_bin, colour_bin))
    n_phot = int(sum(phot_cells.values()))
    uncovered = {k: v for k, v in phot_cells.items() if k not in spec_cells}
    n_uncovered = int(sum(uncovered.values()))
    cells = sorted(set(phot_cells) | set(spec_cells))
    return {
        "bands": list(bands),
        "colour": f"{bands[0]}-{bands[1]}",
        "magnitude": bands[2],
        "magnitude_bin": magnitude_bin,
        "colour_bin": colour_bin,
        "photometric_objects": n_phot,
        "spectroscopic_objects": int(sum(spec_cells.values())),
        "cells_with_photometry": len(phot_cells),
        "cells_with_photometry_and_no_specz": len(uncovered),
        "photometric_fraction_in_cells_without_specz": (n_uncovered / n_phot) if n_phot else None,
        "cells": [
            [i, j, int(phot_cells.get((i, j), 0)), int(spec_cells.get((i, j), 0))] for i, j in cells
        ],
    }
