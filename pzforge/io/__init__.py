"""Reading and writing catalogs and small files: the leaf every other room uses.

- ``readers``: every input format, errors that name the file and the fix;
- ``atomic``: the one atomic writer (temporary sibling + rename), JSON and Parquet helpers;
- ``export``: a Parquet table to CSV, FITS or HDF5.
"""

from typing import TYPE_CHECKING

from pzforge.io.atomic import (
    PARQUET_KWARGS,
    atomic_path,
    read_json,
    write_json,
    write_parquet,
    write_parquet_stream,
    write_text,
)

if TYPE_CHECKING:
    from pzforge.io.readers import (
        FORMATS,
        check_readable,
        detect_format,
        iter_table,
        list_columns,
        read_table,
    )

# The readers (pandas, the registry's format map) are imported on first use (PEP 562): a job
# that only writes JSON does not pay for them.
_READERS = {
    "FORMATS",
    "check_readable",
    "detect_format",
    "iter_table",
    "list_columns",
    "read_table",
}


def __getattr__(name: str) -> object:
    if name not in _READERS:
        raise AttributeError(f"module 'pzforge.io' has no attribute {name!r}")
    from pzforge.io import readers

    value = getattr(readers, name)
    globals()[name] = value
    return value


__all__ = [
    "FORMATS",
    "PARQUET_KWARGS",
    "atomic_path",
    "check_readable",
    "detect_format",
    "iter_table",
    "list_columns",
    "read_json",
    "read_table",
    "write_json",
    "write_parquet",
    "write_parquet_stream",
    "write_text",
]
