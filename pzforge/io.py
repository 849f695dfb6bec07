"""Reading input catalogs in every supported format, with errors that name the file and the fix.

Readers return pandas DataFrames with the requested columns. Parquet and HATS inputs are read
column-selectively; CSV, FITS and HDF5 are read whole (their layouts give no cheap column access).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pzforge.errors import InputDataError

FORMATS = ("csv", "fits", "hdf5", "parquet", "hats")
_EXTENSIONS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The format given, or the one its extension (or a HATS directory) implies."""
    path = Path(path)
    if fmt:
        if fmt not in FORMATS:
            raise InputDataError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    if path.is_dir():
        if (path / "hats.properties").is_file() or (path / "properties").is_file():
            return "hats"
        raise InputDataError(
            f"{path} is a directory but not a HATS catalog (no hats.properties); give a file "
            "or a HATS catalog directory"
        )
    name = path.name.lower()
    for ext, found in sorted(_EXTENSIONS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(ext):
            return found
    raise InputDataError(
        f"{path}: cannot tell the format from the extension {path.suffix!r}; set `format:` to one "
        f"of {', '.join(FORMATS)} in the catalog's config"
    )


def check_readable(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: file not found; check the catalog's `path` in the config")
    if path.is_file() and path.stat().st_size == 0:
        raise InputDataError(f"{path}: the file is empty")
    return path


def list_columns(
    path: str | Path, fmt: str, *, hdf5_key: str | None = None, fits_hdu: int | str = 1
) -> list[str]:
    """Column names of a catalog, read cheaply where the format allows."""
    path = check_readable(path)
    try:
        if fmt == "parquet":
            return list(pq.read_schema(path).names)
        if fmt == "hats":
            return [c for c in _hats_schema(path).names if c != "_healpix_29"]
        if fmt == "csv":
            return list(pd.read_csv(path, nrows=0).columns)
    except InputDataError:
        raise
    except Exception as exc:  # any reader failure means the file cannot be used as it is
        raise _unreadable(path, fmt, exc) from exc
    return list(read_table(path, fmt, hdf5_key=hdf5_key, fits_hdu=fits_hdu).columns)


def read_table(
    path: str | Path,
    fmt: str,
    columns: Sequence[str] | None = None,
    *,
    hdf5_key: str | None = None,
    fits_hdu: int | str = 1,
) -> pd.DataFrame:
    """Read ``columns`` (all when None) of a catalog into pandas."""
    path = check_readable(path)
    try:
        if fmt == "parquet":
            df = pq.read_table(path, columns=list(columns) if columns else None).to_pandas()
        elif fmt == "hats":
            df = _read_hats(path, columns)
        elif fmt == "csv":
            df = pd.read_csv(path, usecols=list(columns) if columns else None, low_memory=False)
        elif fmt == "fits":
            df = _read_fits(path, fits_hdu)
        elif fmt == "hdf5":
            df = _read_hdf5(path, hdf5_key)
        else:
            raise InputDataError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    except InputDataError:
        raise
    except Exception as exc:
        raise _unreadable(path, fmt, exc) from exc
    if columns is not None and fmt in ("fits", "hdf5"):
        df = df[list(columns)]
    if len(df.columns) == 0:
        raise InputDataError(f"{path}: the file holds no columns")
    return df.reset_index(drop=True)


def _unreadable(path: Path, fmt: str, exc: Exception) -> InputDataError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputDataError(
        f"{path}: cannot be read as {fmt} ({reason}); check that the file is complete and "
        "of that format, or set `format:` in the catalog's config"
    )


def _hats_schema(path: Path) -> pa.Schema:
    for candidate in ("dataset/_common_metadata", "dataset/_metadata"):
        if (path / candidate).is_file():
            return pq.read_schema(path / candidate)
    files = sorted((path / "dataset").rglob("*.parquet"))
    if not files:
        raise InputDataError(f"{path}: HATS catalog has no partition files under dataset/")
    return pq.read_schema(files[0])


def _read_hats(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    files = sorted((path / "dataset").rglob("Npix=*.parquet"))
    if not files:
        files = sorted((path / "dataset").rglob("*.parquet"))
    if not files:
        raise InputDataError(f"{path}: HATS catalog has no partition files under dataset/")
    wanted = list(columns) if columns else None
    tables = [pq.read_table(f, columns=wanted) for f in files]
    df = pa.concat_tables(tables).to_pandas()
    return df.drop(columns=["_healpix_29"], errors="ignore")


def _read_fits(path: Path, hdu: int | str) -> pd.DataFrame:
    from astropy.table import Table

    table = Table.read(path, hdu=hdu, format="fits")
    multi = [name for name in table.colnames if len(table[name].shape) > 1]
    if multi:
        table.remove_columns(multi)  # vector columns cannot become pandas columns
    df = table.to_pandas()
    for col in df.columns:  # FITS is big-endian; pandas and Arrow want native order
        if df[col].dtype.kind in "iuf" and not df[col].dtype.isnative:
            df[col] = df[col].astype(df[col].dtype.newbyteorder("="))
        if df[col].dtype == object and len(df) and isinstance(df[col].iloc[0], bytes):
            df[col] = df[col].str.decode("utf-8").str.strip()
    return df


def _read_hdf5(path: Path, key: str | None) -> pd.DataFrame:
    import h5py

    with h5py.File(path, "r") as fh:
        keys = list(fh.keys())
        pandas_keys = ["/" + k for k in keys if "pandas_type" in fh[k].attrs]
    if pandas_keys or (key and _is_pandas_key(path, key)):
        use = key or _only(path, pandas_keys, "table key")
        return pd.read_hdf(path, key=use)
    with h5py.File(path, "r") as fh:
        if key is None and all(isinstance(fh[k], h5py.Dataset) for k in keys):
            group_name = "/"  # columns stored at the root of the file
        else:
            group_name = key or _only(path, keys, "group")
        if group_name not in fh:
            raise InputDataError(
                f"{path}: no HDF5 group or key {group_name!r}; keys: {', '.join(keys)}"
            )
        node = fh[group_name]
        if isinstance(node, h5py.Dataset):
            if node.dtype.names:
                return pd.DataFrame.from_records(node[()])
            raise InputDataError(f"{path}: {group_name!r} is a plain array, not a table")
        data = {}
        for name, item in node.items():
            if isinstance(item, h5py.Dataset) and item.ndim == 1:
                values = item[()]
                if values.dtype.kind == "S":
                    values = np.char.decode(values, "utf-8")
                data[name] = values
        if not data:
            raise InputDataError(f"{path}: HDF5 group {group_name!r} holds no 1-D columns")
        lengths = {len(v) for v in data.values()}
        if len(lengths) != 1:
            raise InputDataError(f"{path}: columns of HDF5 group {group_name!r} differ in length")
        return pd.DataFrame(data)


def _is_pandas_key(path: Path, key: str) -> bool:
    import h5py

    with h5py.File(path, "r") as fh:
        node = fh.get(key)
        return node is not None and "pandas_type" in node.attrs


def _only(path: Path, keys: list[str], what: str) -> str:
    if len(keys) == 1:
        return keys[0]
    raise InputDataError(
        f"{path}: the HDF5 file holds several entries ({', '.join(keys)}); set `hdf5_key:` to the {what} to read"
    )
