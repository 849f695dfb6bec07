"""Export a catalog (one sorted Parquet file) to CSV, FITS and HDF5.

CSV and HDF5 are written in row batches, so memory stays flat; FITS needs the whole table in
memory (astropy writes a binary table at once).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pzforge.errors import ConfigError
from pzforge.io.atomic import atomic_path

EXPORT_FORMATS = ("parquet", "csv", "fits", "hdf5")
BATCH_ROWS = 500_000


def export_catalog(
    parquet: str | Path, fmt: str, out: str | Path, *, hdf5_key: str = "combined"
) -> Path:
    """Write ``parquet`` as ``fmt`` to ``out`` (atomic); HDF5 tables go under ``hdf5_key``."""
    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown output format {fmt!r}; use {', '.join(EXPORT_FORMATS)}")
    with atomic_path(out) as tmp:
        if fmt == "csv":
            _to_csv(Path(parquet), tmp)
        elif fmt == "fits":
            _to_fits(Path(parquet), tmp)
        elif fmt == "hdf5":
            _to_hdf5(Path(parquet), tmp, hdf5_key)
        else:
            tmp.write_bytes(Path(parquet).read_bytes())
    return out


def _to_csv(parquet: Path, out: Path) -> None:
    pf = pq.ParquetFile(parquet)
    with open(out, "w", newline="") as fh:
        for i, batch in enumerate(pf.iter_batches(batch_size=BATCH_ROWS)):
            batch.to_pandas().to_csv(fh, header=i == 0, index=False, lineterminator="\n")
        if pf.metadata.num_rows == 0:
            pd.DataFrame(columns=pf.schema_arrow.names).to_csv(fh, index=False)


def _to_fits(parquet: Path, out: Path) -> None:
    from astropy.table import MaskedColumn, Table

    table = pq.read_table(parquet)
    cols = []
    for name in table.column_names:
        arr = table.column(name)
        mask = arr.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            values = np.asarray(arr.fill_null("").to_pylist(), dtype=str)
        elif pa.types.is_integer(arr.type):
            values = arr.fill_null(0).to_numpy()
        else:
            values = arr.to_numpy(zero_copy_only=False)
        cols.append(MaskedColumn(values, name=name, mask=mask) if mask.any() else values)
    Table(cols, names=table.column_names).write(out, format="fits")


def _to_hdf5(parquet: Path, out: Path, key: str) -> None:
    pf = pq.ParquetFile(parquet)
    schema = pf.schema_arrow
    table = pq.read_table(parquet, columns=[f.name for f in schema if pa.types.is_string(f.type)])
    itemsize = {}
    for name in table.column_names:
        lengths = pc.utf8_length(table.column(name).fill_null(""))
        itemsize[name] = max(1, int(pc.max(lengths).as_py() or 1))
    with pd.HDFStore(out, mode="w", complevel=3, complib="zlib") as store:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            store.append(key, _hdf5_frame(batch.to_pandas()), min_itemsize=itemsize, index=False)
        if pf.metadata.num_rows == 0:
            store.put(key, _hdf5_frame(schema.empty_table().to_pandas()), format="table")


def _hdf5_frame(df: pd.DataFrame) -> pd.DataFrame:
    """PyTables has no nullable ints or missing strings: ints with nulls become float, NA text ''."""
    out = df.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_string_dtype(col) or col.dtype == object:
            out[name] = col.astype(object).where(col.notna(), "").astype(str).to_numpy(dtype=object)
        elif pd.api.types.is_integer_dtype(col) and col.isna().any():
            out[name] = col.astype("float64")
        elif isinstance(
            col.dtype, pd.api.extensions.ExtensionDtype
        ) and pd.api.types.is_numeric_dtype(col):
            out[name] = col.to_numpy(dtype="float64", na_value=np.nan)
    return out
