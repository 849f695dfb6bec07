"""Ids, flags and types as text: Arrow string arrays for hash lookups and sorts, and values
"as given" as pandas strings.

Arrow reads pandas' Arrow-backed strings without copying and never builds Python objects, which
``pa.array(series.astype(str).to_numpy())`` does for every row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
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


def as_text(s: pd.Series) -> pd.Series:
    """Flags, types and ids 'as given', as pandas strings: integral floats lose their '.0'."""
    if pd.api.types.is_float_dtype(s):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        integral = np.isfinite(values) & (np.floor(values) == values)
        text = s.astype("string")
        text[integral] = pd.Series(values[integral].astype(np.int64)).astype("string").to_numpy()
        return text
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.astype("string")
    return s.astype("string").str.strip()
