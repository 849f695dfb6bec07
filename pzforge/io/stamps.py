"""Provenance inside product files, so it travels when a file is copied out of the registry.

A *stamp* is a small JSON-able dict (pipeline, run name, product, config digest, pzforge and
library versions, inputs) written where each format keeps metadata:

- Parquet: the schema's key-value metadata, key ``pzforge`` (JSON);
- HATS: the catalog's ``properties`` (``hats_creator``, ``hats_builder``, ``obs_title``,
  ``prov_progenitor`` and ``pzforge_*`` keys), and its Parquet files like any Parquet;
- FITS: the table header, keyword ``PZFORGE`` (JSON, long-string CONTINUE cards);
- HDF5: an attribute ``pzforge`` (JSON) on the table's group;
- CSV: nothing (a header comment would break readers of plain CSV).

A stamp holds nothing that changes between identical runs (no run id, no time): the same inputs
and config still give byte-identical files. The run, its time and the registered product are
found from the file's checksum in the registry (``pzforge provenance show FILE``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KEY = "pzforge"


def encode(stamp: dict[str, Any]) -> str:
    return json.dumps(stamp, sort_keys=True, separators=(",", ":"))


def parquet_metadata(stamp: dict[str, Any] | None) -> dict[bytes, bytes] | None:
    return {KEY.encode(): encode(stamp).encode()} if stamp else None


def hats_properties(stamp: dict[str, Any] | None) -> dict[str, str]:
    """HATS provenance fields (hats' KNOWN_PROVENANCE_FIELDS) plus ``pzforge_*`` keys."""
    if not stamp:
        return {}
    software = stamp.get("software", {})
    inputs = stamp.get("inputs") or []
    return {
        "hats_creator": f"pzforge {stamp['pipeline']}",
        "hats_builder": ", ".join(f"{k} v{v}" for k, v in sorted(software.items())),
        "obs_title": stamp.get("product", ""),
        "prov_progenitor": "; ".join(_describe(i) for i in inputs) or "-",
        "pzforge_pipeline": stamp["pipeline"],
        "pzforge_run_name": stamp.get("run_name", ""),
        "pzforge_config_sha256": stamp.get("config_sha256", ""),
        "pzforge_stamp": encode(stamp),
    }


def _describe(item: dict[str, Any]) -> str:
    if item.get("internal_name"):
        return f"pzforge product {item['internal_name']}"
    return f"{item.get('name', '?')} ({item.get('format', 'file')})"


def read_stamp(path: str | Path) -> dict[str, Any] | None:
    """The stamp a product file carries, or None (a file made elsewhere, or CSV)."""
    path = Path(path)
    if path.is_dir():
        for props in ("hats.properties", "properties"):
            if (path / props).is_file():
                for line in (path / props).read_text().splitlines():
                    if line.startswith("pzforge_stamp="):
                        return json.loads(line.split("=", 1)[1])
        return None
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(KEY.encode())
        return json.loads(raw) if raw else None
    if name.endswith((".fits", ".fit", ".fits.gz")):
        from astropy.io import fits

        with fits.open(path) as hdul:
            for hdu in hdul:
                if KEY.upper() in hdu.header:
                    return json.loads(hdu.header[KEY.upper()])
        return None
    if name.endswith((".h5", ".hdf5", ".hdf")):
        import h5py

        with h5py.File(path, "r") as fh:
            for node in fh.values():
                raw = node.attrs.get(KEY)
                if raw is not None:
                    return json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
        return None
    return None
