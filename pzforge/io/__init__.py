"""Reading and writing catalogs and small files: the leaf every other room uses.

- ``readers``: every input format, errors that name the file and the fix;
- ``atomic``: the one atomic writer (temporary sibling + rename), JSON and Parquet helpers;
- ``export``: a Parquet table to CSV, FITS or HDF5.
"""

from pzforge.io.atomic import (
    PARQUET_KWARGS,
    atomic_path,
    read_json,
    write_json,
    write_parquet,
    write_text,
)
from pzforge.io.readers import (
    FORMATS,
    check_readable,
    detect_format,
    iter_table,
    list_columns,
    read_table,
)

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
    "write_text",
]
