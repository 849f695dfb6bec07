"""Reading input catalogs in every supported format, with errors that name the file and the fix.

The format map and the readers themselves are the registry's (``registry.formats``), shared so
that a product and a pipeline input are read the same way; this module turns their errors into
messages that say what to change in a pipeline config.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from pzforge.errors import InputDataError
from registry import formats
from registry.errors import ValidationError

FORMATS = formats.TABULAR


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The format given, or the one its name (or a HATS directory) implies."""
    path = Path(path)
    if fmt:
        if fmt not in FORMATS:
            raise InputDataError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    if path.is_dir() and not formats.is_hats(path):
        raise InputDataError(
            f"{path} is a directory but not a HATS catalog (no hats.properties); give a file "
            "or a HATS catalog directory"
        )
    found = formats.format_of(path)
    if found not in FORMATS:
        raise InputDataError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; set `format:` to "
            f"one of {', '.join(FORMATS)} in the catalog's config"
        )
    return found


def check_readable(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: file not found; check the catalog's `path` in the config")
    if path.is_file() and path.stat().st_size == 0:
        raise InputDataError(f"{path}: the file is empty")
    return path


def _user_error(exc: ValidationError) -> InputDataError:
    if isinstance(exc, formats.UnreadableFile):
        return InputDataError(
            f"{exc.path}: cannot be read as {exc.fmt} ({exc.reason}); check that the file is "
            "complete and of that format, or set `format:` in the catalog's config"
        )
    return InputDataError(str(exc))


def list_columns(
    path: str | Path, fmt: str, *, hdf5_key: str | None = None, fits_hdu: int | str = 1
) -> list[str]:
    """Column names of a catalog, read cheaply where the format allows."""
    path = check_readable(path)
    try:
        return formats.list_columns(path, fmt, hdf5_key=hdf5_key, fits_hdu=fits_hdu)
    except ValidationError as exc:
        raise _user_error(exc) from exc


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
    if fmt not in FORMATS:
        raise InputDataError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        return formats.read_table(path, fmt, columns, hdf5_key=hdf5_key, fits_hdu=fits_hdu)
    except ValidationError as exc:
        raise _user_error(exc) from exc


def iter_table(
    path: str | Path,
    fmt: str,
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int,
    hdf5_key: str | None = None,
    fits_hdu: int | str = 1,
) -> Iterator[pd.DataFrame]:
    """``read_table`` in chunks of at most ``chunk_rows`` rows, each indexed by its rows'
    positions in the file (``registry.formats.iter_table``)."""
    path = check_readable(path)
    if fmt not in FORMATS:
        raise InputDataError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    chunks = formats.iter_table(
        path, fmt, columns, chunk_rows=chunk_rows, hdf5_key=hdf5_key, fits_hdu=fits_hdu
    )
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except ValidationError as exc:
            raise _user_error(exc) from exc
        yield chunk
