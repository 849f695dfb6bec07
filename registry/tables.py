"""What the registry needs to know of tabular files: their format, columns and contents.

Kept here (not imported from pzforge) because the registry knows nothing of pipelines; it only
reads the formats a product's main file may have.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from registry.errors import ValidationError

MEDIA_TYPES = {
    "csv": "text/csv",
    "fits": "application/fits",
    "hdf5": "application/x-hdf5",
    "parquet": "application/vnd.apache.parquet",
    "hats": "application/x-hats-catalog",
    "json": "application/json",
    "txt": "text/plain",
    "zip": "application/zip",
    "png": "image/png",
    "html": "text/html",
    "other": "application/octet-stream",
}
_EXT = {
    ".csv": "csv",
    ".fits": "fits",
    ".fit": "fits",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".txt": "txt",
    ".md": "txt",
    ".zip": "zip",
    ".png": "png",
    ".html": "html",
}
TABULAR = ("csv", "fits", "hdf5", "parquet", "hats")


def detect_format(path: Path) -> str:
    if path.is_dir():
        return (
            "hats"
            if (path / "hats.properties").is_file() or (path / "properties").is_file()
            else "other"
        )
    return _EXT.get(path.suffix.lower(), "other")


def read_columns(path: Path, fmt: str) -> list[str]:
    """Column names, read cheaply; a file that cannot be read is a ValidationError."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if fmt == "hats":
            import pyarrow.parquet as pq

            for meta in ("dataset/_common_metadata", "dataset/_metadata"):
                if (path / meta).is_file():
                    return [c for c in pq.read_schema(path / meta).names if c != "_healpix_29"]
            first = next(iter(sorted((path / "dataset").rglob("*.parquet"))), None)
            if first is None:
                raise ValidationError(f"{path}: HATS catalog without partition files")
            return [c for c in pq.read_schema(first).names if c != "_healpix_29"]
        if fmt == "csv":
            return list(pd.read_csv(path, nrows=0).columns)
        return list(read_dataframe(path, fmt).columns)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(
            f"{path}: cannot be read as {fmt} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from exc


def read_dataframe(path: Path, fmt: str) -> pd.DataFrame:
    """The whole table as pandas (HATS via its partition files, without the HEALPix index)."""
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "hats":
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted((path / "dataset").rglob("Npix=*.parquet"))
        df = (
            pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()
            if files
            else pd.DataFrame()
        )
        return df.drop(columns=["_healpix_29"], errors="ignore").reset_index(drop=True)
    if fmt == "fits":
        from astropy.table import Table

        table = Table.read(path, format="fits")
        table.remove_columns([c for c in table.colnames if len(table[c].shape) > 1])
        return table.to_pandas()
    if fmt == "hdf5":
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
        if len(keys) == 1:
            return pd.read_hdf(path, keys[0])
        import h5py

        with h5py.File(path, "r") as fh:
            data = {k: fh[k][()] for k in fh if isinstance(fh[k], h5py.Dataset) and fh[k].ndim == 1}
        if not data:
            raise ValidationError(f"{path}: no table found in the HDF5 file")
        return pd.DataFrame(data)
    raise ValidationError(f"{path}: format {fmt!r} is not tabular; use one of {', '.join(TABULAR)}")
