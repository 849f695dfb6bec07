"""The row-wise unique given to hats-import equals numpy's, and reaches the Dask workers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from pzforge.tiles import hats_import_speedups as speedups
from pzforge.tiles.cluster import dask_client


def _same_as_numpy(array: np.ndarray) -> None:
    expected_rows, expected_inverse = np.unique(array, return_inverse=True, axis=0)
    rows, inverse = speedups.fast_unique(array, return_inverse=True, axis=0)
    assert rows.dtype == expected_rows.dtype and inverse.dtype == expected_inverse.dtype
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(inverse, expected_inverse)


@pytest.mark.parametrize("seed", range(5))
def test_pixel_alignment_rows_match_numpy(seed):
    """The shape hats-import uses: (order, pixel, count) rows, many repeats, unsorted."""
    rng = np.random.default_rng(seed)
    n = 20_000
    order = rng.integers(0, 10, n)
    pixel = rng.integers(0, 12 * 4**order)
    count = rng.integers(0, 3, n) * 1000
    _same_as_numpy(np.column_stack([order, pixel, count]).astype(np.int64))


@pytest.mark.parametrize(
    "array",
    [
        np.array([[3, -1, 7]], dtype=np.int32),  # one row, negative values
        np.array([[1, 2], [1, 2], [0, 5], [1, 1]], dtype=np.uint8),  # unsigned, duplicates
        np.array([[0, 2**60], [0, -(2**60)], [1, 0]], dtype=np.int64),  # wide range: sort path
        np.random.default_rng(7).integers(-(2**62), 2**62, (1000, 7)),  # key overflow: numpy
    ],
    ids=["one-row", "uint8", "wide-range", "key-overflow"],
)
def test_edge_cases_match_numpy(array):
    _same_as_numpy(array)


def test_a_key_too_wide_for_int64_is_left_to_numpy():
    wide = np.random.default_rng(7).integers(-(2**62), 2**62, (1000, 7))
    assert speedups.unique_rows(wide) is None


def test_other_calls_go_to_numpy_unchanged():
    floats = np.array([[0.5, 1.0], [0.5, 1.0]])
    rows = speedups.fast_unique(floats, axis=0)
    np.testing.assert_array_equal(rows, np.unique(floats, axis=0))
    values, counts = speedups.fast_unique(np.array([3, 1, 3]), return_counts=True)
    assert values.tolist() == [1, 3] and counts.tolist() == [1, 2]
    empty = np.empty((0, 3), dtype=np.int64)
    assert speedups.fast_unique(empty, return_inverse=True, axis=0)[0].shape == (0, 3)


def test_install_points_only_hats_import_at_it():
    from hats_import.catalog import map_reduce

    assert speedups.install() and speedups.install()  # idempotent
    assert speedups.installed()
    assert map_reduce.np.unique is speedups.fast_unique
    assert map_reduce.np.float64 is np.float64  # everything else is numpy itself
    assert np.unique is not speedups.fast_unique


def test_worker_processes_get_it():
    """dask.cluster local: separate worker processes, each with the speedup installed."""
    with dask_client({"cluster": "local"}, n_workers=2, need_client=True) as client:
        speedups.register_on_client(client)
        pids = client.run(os.getpid)
        assert len(pids) == 2 and os.getpid() not in pids.values()
        assert all(client.run(speedups.installed).values())


def test_threads_cluster_runs_in_this_process():
    """dask.cluster threads: hats-import's workers are threads here, no process start."""
    with dask_client({"cluster": "threads"}, n_workers=2, need_client=True) as client:
        assert set(client.run(os.getpid).values()) == {os.getpid()}
        assert len(client.scheduler_info()["workers"]) == 2
