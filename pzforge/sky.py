"""Spherical helpers shared by every spatial step: unit vectors and chord <-> angle.

Neighbours on the sphere are searched as Euclidean neighbours of unit vectors (KD-trees), with
the radius converted to the chord length: exact for any radius, no small-angle approximation.
"""

from __future__ import annotations

import numpy as np


def chord_length(radius_arcsec: float) -> float:
    """Straight-line distance between two unit vectors ``radius_arcsec`` apart on the sphere."""
    return 2.0 * np.sin(np.radians(radius_arcsec / 3600.0) / 2.0)


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """(n, 3) unit vectors of positions in degrees."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    cos_dec = np.cos(dec)
    return np.column_stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)])


def chord_to_arcsec(chord: np.ndarray) -> np.ndarray:
    """Angular separation in arcsec of unit vectors ``chord`` apart."""
    return np.degrees(2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))) * 3600.0
