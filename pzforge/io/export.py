"""Export a catalog (one sorted Parquet file) to CSV, FITS and HDF5, byte-reproducibly.

The same Parquet file always gives the same bytes in every format (tests/io): CSV has no
timestamp; astropy's FITS writer adds none (text columns are UTF-8 bytes); HDF5 is written with h5py (not pandas/PyTables, which
stores creation times) as **one group of 1-D column datasets** under the export's key
(``combined``, ``training_set``) with ``track_times=False``, fixed dtypes, fixed chunks and gzip.
That group layout is what RAIL and tables_io read (``tables_io.read`` returns ``{key: {column:
array}}``; see docs/training_set.md) and what ``registry.formats`` reads back
(``hdf5_key: <key>``).

HDF5 column types and nulls (documented in docs/training_set.md):

- floats: float64/float32 as they are, nulls as NaN;
- integers and booleans: their own dtype; a column **with nulls** becomes float64 with NaN;
- strings: fixed-width UTF-8 bytes (width = the longest value in bytes, at least 1); nulls are
  written as the empty string;
- anything else (dates, lists) is refused with a message naming the column.

CSV and HDF5 are written in row batches, so memory stays flat; FITS needs the whole table in
memory (astropy writes a binary table at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pzforge.errors import ConfigError, InputDataError
from pzforge.io.atomic import atomic_path

EXPORT_FORMATS = ("parquet", "csv", "fits", "hdf5")
BATCH_ROWS = 500_000
HDF5_CHUNK_ROWS = 65_536  # fixed chunk length: same chunks, same compressed bytes
HDF5_GZIP_LEVEL = 4


def export_catalog(
    parquet: str | Path, fmt: str, out: str | Path, *, hdf5_key: str = "combined"
) -> Path:
    """Write ``parquet`` as ``fmt`` to ``out`` (atomic); HDF5 columns go in group ``hdf5_key``."""
    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown output format {fmt!r}; use {', '.join(EXPORT_FORMATS)}")
    with atomic_path(out) as tmp:
        if fmt == "csv":
            _to_csv(Path(parquet), tmp)
        elif fmt == "fits":
            _to_fits(Path(parquet), tmp)
        elif fmt == "hdf5":
            write_hdf5_columns(Path(parquet), tmp, hdf5_key)
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
            # FITS text is bytes: UTF-8 (astropy would refuse non-ASCII str)
            values = np.char.encode(np.asarray(arr.fill_null("").to_pylist(), dtype=str), "utf-8")
        elif pa.types.is_integer(arr.type):
            values = arr.fill_null(0).to_numpy()
        else:
            values = arr.to_numpy(zero_copy_only=False)
        cols.append(MaskedColumn(values, name=name, mask=mask) if mask.any() else values)
    out_table = Table(cols, names=table.column_names)
    stamp = (table.schema.metadata or {}).get(b"pzforge")
    if stamp:  # the provenance the Parquet file carries, as a long-string header keyword
        out_table.meta["PZFORGE"] = stamp.decode()
    out_table.write(out, format="fits")


# --- HDF5: one group of 1-D datasets ---------------------------------------------------------------


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_text_dictionary(t: pa.DataType) -> bool:
    return pa.types.is_dictionary(t) and _is_text(t.value_type)


def hdf5_dtypes(source: pq.ParquetFile | pa.Table) -> dict[str, np.dtype]:
    """The numpy dtype of every column in the HDF5 file (see the module docstring)."""
    import h5py

    table = source if isinstance(source, pa.Table) else None
    schema = table.schema if table is not None else source.schema_arrow
    nulls = _null_counts(source)
    text = [f.name for f in schema if _is_text(f.type) or _is_text_dictionary(f.type)]
    widths = _utf8_widths(table if table is not None else source.read(columns=text), text)
    out: dict[str, np.dtype] = {}
    for field in schema:
        t, name = field.type, field.name
        if _is_text(t):
            out[name] = h5py.string_dtype("utf-8", widths[name])
        elif pa.types.is_floating(t):
            out[name] = np.dtype("float32" if pa.types.is_float32(t) else "float64")
        elif pa.types.is_integer(t) or pa.types.is_boolean(t):
            out[name] = np.dtype("float64") if nulls[name] else np.dtype(t.to_pandas_dtype())
        elif _is_text_dictionary(t):
            out[name] = h5py.string_dtype("utf-8", widths[name])
        else:
            raise InputDataError(
                f"column {name!r} has type {t}, which the HDF5 export does not write; drop it "
                "from the catalog or choose another output format (parquet, fits)"
            )
    return out


def _null_counts(source: pq.ParquetFile | pa.Table) -> dict[str, int]:
    if isinstance(source, pa.Table):
        return {name: source.column(name).null_count for name in source.column_names}
    counts = dict.fromkeys(source.schema_arrow.names, 0)
    meta = source.metadata
    for rg in range(meta.num_row_groups):
        for i in range(meta.num_columns):
            col = meta.row_group(rg).column(i)
            name = col.path_in_schema
            stats = col.statistics
            if name in counts:
                counts[name] += (
                    stats.null_count if stats is not None and stats.has_null_count else 1
                )
    return counts


def _utf8_widths(table: pa.Table, names: list[str]) -> dict[str, int]:
    """Longest UTF-8 encoding (bytes, at least 1) of each text column."""
    widths = {}
    for name in names:
        col = table.column(name)
        if _is_text_dictionary(col.type):
            col = pa.chunked_array([c.dictionary_decode() for c in col.chunks], col.type.value_type)
        col = col.cast(pa.large_string()).fill_null("")
        longest = pc.max(pc.binary_length(col.cast(pa.large_binary()))).as_py()
        widths[name] = max(1, int(longest or 0))
    return widths


def column_values(arr: pa.ChunkedArray | pa.Array, dtype: np.dtype) -> np.ndarray:
    """An Arrow column as a numpy array of ``dtype`` (nulls: NaN, or '' for text)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if dtype.kind == "S":
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        text = arr.cast(pa.large_string()).fill_null("").to_numpy(zero_copy_only=False)
        if len(text) == 0:
            return np.zeros(0, dtype=dtype)
        return np.char.encode(text.astype(str), "utf-8").astype(dtype)
    if dtype.kind == "f":
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(dtype)
    return arr.to_numpy(zero_copy_only=False).astype(dtype)


def write_hdf5_columns(
    source: str | Path | pa.Table,
    out: str | Path,
    key: str,
    *,
    rename: Mapping[str, str] | None = None,
    dtypes: Mapping[str, np.dtype] | None = None,
) -> None:
    """``source`` (a Parquet file, read in batches, or an Arrow table) as HDF5 group ``key`` of
    1-D datasets, byte-reproducibly. ``rename`` maps column -> dataset name; ``dtypes`` overrides
    the dtype of some columns (by column name)."""
    import h5py

    pf = source if isinstance(source, pa.Table) else pq.ParquetFile(source)
    schema = pf.schema if isinstance(pf, pa.Table) else pf.schema_arrow
    n = pf.num_rows if isinstance(pf, pa.Table) else pf.metadata.num_rows
    types = {**hdf5_dtypes(pf), **dict(dtypes or {})}
    rename = dict(rename or {})
    chunk = (min(n, HDF5_CHUNK_ROWS),) if n else None
    filters = {"compression": "gzip", "compression_opts": HDF5_GZIP_LEVEL, "shuffle": True}
    with h5py.File(out, "w", track_order=False) as fh:
        group = fh.create_group(key, track_order=True)  # the table's column order
        stamp = (schema.metadata or {}).get(b"pzforge")
        if stamp:  # the provenance the Parquet file carries
            group.attrs["pzforge"] = stamp.decode()
        datasets = {}
        for name in schema.names:
            datasets[name] = group.create_dataset(
                rename.get(name, name),
                shape=(n,),
                dtype=types[name],
                track_times=False,
                chunks=chunk,
                **(filters if n else {}),
            )
        start = 0
        batches = (
            pf.to_batches(max_chunksize=BATCH_ROWS)
            if isinstance(pf, pa.Table)
            else pf.iter_batches(batch_size=BATCH_ROWS)
        )
        for batch in batches:
            stop = start + batch.num_rows
            for name in schema.names:
                datasets[name][start:stop] = column_values(batch.column(name), types[name])
            start = stop
