"""The one atomic writer: write to a temporary sibling, then rename over the target.

A reader (or a crashed run) never sees half a file: either the old content or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# zstd level 3: same size as hats' default level 15, 1.5-4x faster (shared/notes/lsdb-hats.md).
PARQUET_KWARGS = {"compression": "zstd", "compression_level": 3}


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(data: Any, path: str | Path) -> None:
    """JSON, keys sorted (reproducible), written atomically."""
    write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", path)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def write_parquet(table: pa.Table, path: str | Path, **kwargs: Any) -> None:
    """One Parquet file (zstd level 3 unless ``kwargs`` say otherwise), written atomically."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **(PARQUET_KWARGS | kwargs))


def write_parquet_stream(tables: Iterable[pa.Table], path: str | Path, **kwargs: Any) -> int:
    """One Parquet file from tables that come one at a time (bounded memory), written
    atomically: the first table's schema is the file's, the others are cast to it. Returns
    the rows written; an error on the way leaves no file."""
    import pyarrow.parquet as pq

    rows = 0
    with atomic_path(path) as tmp:
        writer = None
        try:
            for table in tables:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, **(PARQUET_KWARGS | kwargs))
                writer.write_table(table.cast(writer.schema))
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ValueError(f"no table to write to {path}")
    return rows
