"""Footprint flags: one boolean output column per footprint of the config (``footprints:``).

A footprint is the union of its circles (centre and radius, e.g. the Rubin DP1 fields) and of a
MOC file (FITS, JSON or ASCII, read with mocpy). A row is inside when its position is in any of
them. Circles are tested on unit vectors (exact great-circle distance); a MOC's own resolution
decides at its borders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pzforge.errors import ConfigError, InputDataError
from pzforge.sky import chord_length, unit_vectors


@dataclass(frozen=True)
class Footprint:
    """One footprint: its output column, circles (ra, dec, radius in degrees) and MOC."""

    name: str
    circles: tuple[tuple[float, float, float], ...] = ()
    moc_path: str | None = None

    @classmethod
    def from_config(cls, spec: dict[str, Any]) -> Footprint:
        circles = tuple(
            (float(c["ra"]), float(c["dec"]), float(c["radius_deg"]))
            for c in spec.get("circles") or []
        )
        if not circles and not spec.get("moc"):
            raise ConfigError(f"footprint {spec['name']!r}: give circles, a moc file, or both")
        return cls(name=spec["name"], circles=circles, moc_path=spec.get("moc"))


def read_moc(path: str | Path) -> Any:
    """A MOC from a FITS, JSON or ASCII file; an unreadable file is an InputDataError."""
    from mocpy import MOC

    path = Path(path)
    if not path.is_file():  # checked first: mocpy would take a missing path for a URL
        raise InputDataError(f"footprint MOC {path}: file not found; check footprints[].moc")
    try:
        if path.suffix.lower() == ".json":
            return MOC.from_json(json.loads(path.read_text()))
        if path.suffix.lower() in (".txt", ".moc", ".ascii"):
            return MOC.from_str(path.read_text())
        return MOC.from_fits(str(path))
    except FileNotFoundError as exc:
        raise InputDataError(
            f"footprint MOC {path}: file not found; check footprints[].moc"
        ) from exc
    except Exception as exc:  # mocpy raises several kinds for a malformed file
        raise InputDataError(
            f"footprint MOC {path}: not a readable MOC ({exc}); give a MOC FITS file, a MOC JSON "
            "file or an ASCII MOC (.txt)"
        ) from exc


class FootprintFlags:
    """The footprints of a run, with their MOCs loaded once; ``flags`` answers per partition."""

    def __init__(self, specs: list[dict[str, Any]] | None):
        self.footprints = [Footprint.from_config(s) for s in specs or []]
        self._mocs = {f.name: read_moc(f.moc_path) for f in self.footprints if f.moc_path}

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.footprints]

    def flags(self, ra: np.ndarray, dec: np.ndarray) -> dict[str, np.ndarray]:
        """One boolean array per footprint: is each position inside?"""
        ra = np.asarray(ra, dtype=float)
        dec = np.asarray(dec, dtype=float)
        out = {}
        xyz = unit_vectors(ra, dec) if len(ra) else np.zeros((0, 3))
        for fp in self.footprints:
            inside = np.zeros(len(ra), dtype=bool)
            for c_ra, c_dec, radius in fp.circles:
                centre = unit_vectors(np.array([c_ra]), np.array([c_dec]))[0]
                inside |= np.linalg.norm(xyz - centre, axis=1) <= chord_length(radius * 3600.0)
            moc = self._mocs.get(fp.name)
            if moc is not None and len(ra):
                import astropy.units as u
                from astropy.coordinates import Latitude, Longitude

                inside |= np.asarray(
                    moc.contains_lonlat(Longitude(ra * u.deg), Latitude(dec * u.deg)), dtype=bool
                )
            out[fp.name] = inside
        return out
