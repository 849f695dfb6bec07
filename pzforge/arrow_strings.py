"""Id columns as Arrow string arrays, for Arrow's hash lookups and sorts.

Arrow reads pandas' Arrow-backed strings without copying and never builds Python objects, which
``pa.array(series.astype(str).to_numpy())`` does for every row.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa


def as_arrow_strings(values: Any) -> pa.Array:
    """A pandas Series, numpy array, list or Arrow array of ids as one ``pa.string()`` array."""
    if isinstance(values, pd.Series):
        arr = pa.Array.from_pandas(values)
    elif isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    else:
        arr = pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())
