"""File formats: the one map from names to formats, and the one reader of tabular files.

Both the registry (uploads, ``get_dataframe``) and the pipelines (``pzforge.io``) read tables
through this module, so a format is recognised, and a file is read, the same way everywhere.
Messages name the file; callers add what the user should change in their own terms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from registry.errors import ValidationError

TABULAR = ("csv", "fits", "hdf5", "parquet", "hats")
# file name ending -> format (longest ending wins, case-insensitive)
EXTENSIONS = {
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
    ".json": "json",
    ".txt": "txt",
    ".md": "txt",
    ".zip": "zip",
    ".png": "png",
    ".html": "html",
}
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
HEALPIX_COLUMN = "_healpix_29"  # hats' spatial index, not a column of the data


class UnreadableFile(ValidationError):
    """A file cannot be read as the format it claims (``reason`` says why)."""

    def __init__(self, path: Path, fmt: str, reason: str):
        self.path, self.fmt, self.reason = path, fmt, reason
        super().__init__(f"{path}: cannot be read as {fmt} ({reason})")


def is_hats(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and any((path / n).is_file() for n in ("hats.properties", "properties"))


def format_of(path: str | Path) -> str | None:
    """The format a path's name (or a HATS directory) implies; None when unknown."""
    path = Path(path)
    if path.is_dir():
        return "hats" if is_hats(path) else None
    name = path.name.lower()
    for ext, fmt in sorted(EXTENSIONS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(ext):
            return fmt
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def list_columns(
    path: str | Path, fmt: str, *, hdf5_key: str | None = None, fits_hdu: int | str = 1
) -> list[str]:
    """Column names, read cheaply where the format allows (schemas, CSV header)."""
    path = Path(path)
    try:
        if fmt == "parquet":
            return list(pq.read_schema(path).names)
        if fmt == "hats":
            return [c for c in _hats_schema(path).names if c != HEALPIX_COLUMN]
        if fmt == "csv":
            return list(pd.read_csv(path, nrows=0).columns)
    except ValidationError:
        raise
    except Exception as exc:  # any reader failure means the file cannot be used as it is
        raise UnreadableFile(path, fmt, _reason(exc)) from exc
    return list(read_table(path, fmt, hdf5_key=hdf5_key, fits_hdu=fits_hdu).columns)


def read_table(
    path: str | Path,
    fmt: str,
    columns: Sequence[str] | None = None,
    *,
    hdf5_key: str | None = None,
    fits_hdu: int | str = 1,
) -> pd.DataFrame:
    """``columns`` (all when None) of a table as pandas, with a fresh 0..n-1 index."""
    path = Path(path)
    if fmt not in TABULAR:
        raise ValidationError(
            f"{path}: format {fmt!r} is not tabular; use one of {', '.join(TABULAR)}"
        )
    try:
        if fmt == "parquet":
            df = pq.read_table(path, columns=list(columns) if columns else None).to_pandas()
        elif fmt == "hats":
            df = _read_hats(path, columns)
        elif fmt == "csv":
            df = pd.read_csv(path, usecols=list(columns) if columns else None, low_memory=False)
        elif fmt == "fits":
            df = _read_fits(path, fits_hdu)
        else:
            df = _read_hdf5(path, hdf5_key)
    except ValidationError:
        raise
    except Exception as exc:
        raise UnreadableFile(path, fmt, _reason(exc)) from exc
    if columns is not None and fmt in ("fits", "hdf5"):
        df = df[list(columns)]
    if len(df.columns) == 0:
        raise ValidationError(f"{path}: the file holds no columns")
    return df.reset_index(drop=True)


def iter_table(
    path: str | Path,
    fmt: str,
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = 262_144,
    hdf5_key: str | None = None,
    fits_hdu: int | str = 1,
) -> Iterator[pd.DataFrame]:
    """``read_table`` in chunks of at most ``chunk_rows`` rows, in file order, each indexed by
    its rows' positions in the file: concatenated they equal ``read_table`` (same values and
    dtypes), while only one chunk is held at a time (Parquet and HATS by record batches, HDF5
    by h5py slices). CSV and FITS are read whole, then sliced: pandas infers a CSV column's
    type from all its values, which a chunked parse cannot reproduce, and astropy's masks of a
    FITS table (empty strings, NaN) come only with ``Table.read`` of the whole HDU (a
    memory map would not bound the memory either: its pages count as resident once read)."""
    path = Path(path)
    if fmt not in TABULAR:
        raise ValidationError(
            f"{path}: format {fmt!r} is not tabular; use one of {', '.join(TABULAR)}"
        )
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows should be greater than 0, not {chunk_rows}")
    wanted = list(columns) if columns is not None else None
    try:
        if fmt in ("parquet", "hats"):
            files = [path] if fmt == "parquet" else hats_partition_files(path)
            if fmt == "hats" and not files:
                raise ValidationError(f"{path}: HATS catalog has no partition files under dataset/")
            chunks = _iter_parquet(files, wanted, chunk_rows, drop_healpix=fmt == "hats")
        elif fmt == "hdf5":
            from registry.hdf5 import iter_hdf5

            chunks = iter_hdf5(path, hdf5_key, chunk_rows, wanted)
        else:
            whole = read_table(path, fmt, wanted, fits_hdu=fits_hdu)
            chunks = (
                whole.iloc[i : i + chunk_rows] for i in range(0, max(len(whole), 1), chunk_rows)
            )
        start = 0
        for df in chunks:
            if wanted is not None and fmt in ("fits", "hdf5"):
                df = df[wanted]
            if len(df.columns) == 0:
                raise ValidationError(f"{path}: the file holds no columns")
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield df
    except ValidationError:
        raise
    except Exception as exc:
        raise UnreadableFile(path, fmt, _reason(exc)) from exc


def _iter_parquet(
    files: list[Path], columns: list[str] | None, chunk_rows: int, *, drop_healpix: bool
) -> Iterator[pd.DataFrame]:
    """Record batches as pandas, converted with the file's schema (its pandas metadata
    included), as ``pq.read_table(...).to_pandas()`` converts the whole file; one empty frame
    when there is no row at all."""
    first_schema, produced = None, False
    for file in files:
        pf = pq.ParquetFile(file)
        schema = pf.schema_arrow
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
        first_schema = first_schema or schema
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
            if batch.num_rows:
                produced = True
                yield _parquet_frame(pa.Table.from_batches([batch], schema=schema), drop_healpix)
    if not produced and first_schema is not None:  # no row in any file
        yield _parquet_frame(first_schema.empty_table(), drop_healpix)


def _parquet_frame(table: pa.Table, drop_healpix: bool) -> pd.DataFrame:
    df = table.to_pandas()
    if drop_healpix:
        df = df.drop(columns=[HEALPIX_COLUMN], errors="ignore")
    return df.reset_index(drop=True)


def _hats_schema(path: Path) -> pa.Schema:
    for candidate in ("dataset/_common_metadata", "dataset/_metadata"):
        if (path / candidate).is_file():
            return pq.read_schema(path / candidate)
    files = sorted((path / "dataset").rglob("*.parquet"))
    if not files:
        raise ValidationError(f"{path}: HATS catalog has no partition files under dataset/")
    return pq.read_schema(files[0])


def hats_partition_files(path: str | Path) -> list[Path]:
    path = Path(path)
    return sorted((path / "dataset").rglob("Npix=*.parquet")) or sorted(
        (path / "dataset").rglob("*.parquet")
    )


def _read_hats(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    files = hats_partition_files(path)
    if not files:
        raise ValidationError(f"{path}: HATS catalog has no partition files under dataset/")
    wanted = list(columns) if columns else None
    tables = [pq.read_table(f, columns=wanted) for f in files]
    df = pa.concat_tables(tables).to_pandas()
    return df.drop(columns=[HEALPIX_COLUMN], errors="ignore")


def fits_table_hdu(path: Path, hdu: int | str) -> int:
    """The index of the table extension ``hdu`` names (a number or an EXTNAME), checked: astropy
    falls back to the first table when asked for one that is not there, silently."""
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdul:
        tables = [
            (i, h.name)
            for i, h in enumerate(hdul)
            if isinstance(h, fits.BinTableHDU | fits.TableHDU)
        ]
        listing = ", ".join(f"{i} ({n})" for i, n in tables) or "none"
        if isinstance(hdu, str) and not hdu.strip().lstrip("-").isdigit():
            found = [i for i, n in tables if n.upper() == hdu.strip().upper()]
            if not found:
                raise ValidationError(
                    f"{path}: no FITS table extension named {hdu!r}; table HDUs: {listing} "
                    "(set fits_hdu to one of them)"
                )
            return found[0]
        index = int(hdu)
        if index not in {i for i, _ in tables}:
            if index == 0:
                what = "is the primary HDU, which holds no table"
            elif 0 < index < len(hdul):
                what = f"is HDU {index} ({hdul[index].name or 'no name'}), which is not a table"
            else:
                what = f"does not exist (the file has {len(hdul)} HDUs)"
            raise ValidationError(
                f"{path}: fits_hdu {index} {what}; table HDUs: {listing} "
                "(set fits_hdu to one of them)"
            )
        return index


def _read_fits(path: Path, hdu: int | str) -> pd.DataFrame:
    from astropy.table import Table

    return _fits_frame(Table.read(path, hdu=fits_table_hdu(path, hdu), format="fits"))


def _fits_frame(table: Any) -> pd.DataFrame:
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
    from registry.hdf5 import read_hdf5  # h5py only: nothing in the file is ever unpickled

    return read_hdf5(path, key)
