"""Train/test split of a training set: seeded and independent of row order, or from a column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from pzforge.errors import ConfigError, InputDataError
from pzforge.strings import as_arrow_strings
from pzforge.training_set.settings import SplitSettings

SUBSET_TRAIN, SUBSET_TEST = "train", "test"


def assign_subset(df: pd.DataFrame, split: SplitSettings | dict[str, Any]) -> pd.Series:
    """``train`` / ``test`` per row (or None when there is no split).

    random: exactly ``round(training_fraction * n)`` rows are train, chosen by a permutation
    seeded with ``seed`` over the rows sorted by id (so the result does not depend on row order).
    column: rows whose ``column`` value is in ``train_values`` are train, the others test.
    """
    split = SplitSettings.coerce(split)
    method = split.method
    if method == "none":
        return pd.Series([pd.NA] * len(df), index=df.index, dtype="string")
    if method == "random":
        n = len(df)
        n_train = int(round(split.training_fraction * n))
        ids = as_arrow_strings(df["id"])
        order = pc.sort_indices(ids).to_numpy()
        perm = np.random.default_rng(split.seed).permutation(n)
        is_train = np.zeros(n, dtype=bool)
        is_train[order[perm[:n_train]]] = True
    elif method == "column":
        col = split.column
        if col not in df.columns:
            raise InputDataError(
                f"split.column {col!r} is not a column of the training set; columns: "
                f"{', '.join(df.columns)}"
            )
        values = split.train_values or [True, 1, "train", "training"]
        is_train = df[col].isin(values).to_numpy(dtype=bool)
    else:
        raise ConfigError(f"unknown split.method {method!r}; use none, random or column")
    return pd.Series(np.where(is_train, SUBSET_TRAIN, SUBSET_TEST), index=df.index, dtype="string")
