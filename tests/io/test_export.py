"""Exports of a catalog's Parquet file: byte-identical reruns, the HDF5 group layout, read-back.

The HDF5 layout is the one RAIL's I/O library (tables_io) reads and writes: a group of 1-D
datasets, read by ``tables_io.io_utils.read.read_HDF5_group_to_dict`` as ``{name: np.array}``
(LSSTDESC/tables_io src/tables_io/io_utils/read.py; /work/research/rail.md section 2.1-2.2).
"""

from __future__ import annotations

import time

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pzforge.errors import InputDataError
from pzforge.io.export import HDF5_CHUNK_ROWS, export_catalog
from registry.formats import read_table


def catalog(n: int = 1000) -> pa.Table:
    rng = np.random.default_rng(1)
    ids = [f"id-{i:05d}" for i in range(n)]
    survey = np.array(["VVDS", "JADES", "Ω-survey", "3D-HST"], dtype=object)[np.arange(n) % 4]
    flag = pa.array([None if i % 7 == 0 else i % 5 for i in range(n)], pa.int8())
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "ra": rng.uniform(0, 360, n),
            "z": pa.array([None if i % 11 == 0 else float(i) / n for i in range(n)], pa.float64()),
            "mag_i": pa.array(rng.uniform(18, 26, n).astype("float32")),
            "z_flag_homogenized": flag,
            "n_candidates": pa.array(np.arange(n) % 3, pa.int64()),
            "survey": pa.array(list(survey), pa.string()),
            "note": pa.array([None if i % 2 else "é" * (i % 4) for i in range(n)], pa.string()),
            "matched": pa.array(np.arange(n) % 2 == 0),
        }
    )


@pytest.fixture()
def parquet(tmp_path):
    path = tmp_path / "cat.parquet"
    pq.write_table(catalog(), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "fits", "hdf5"])
def test_two_exports_of_the_same_parquet_are_byte_identical(parquet, tmp_path, fmt):
    a = export_catalog(parquet, fmt, tmp_path / f"a.{fmt}", hdf5_key="training_set")
    time.sleep(1.1)  # a stored timestamp (PyTables, FITS DATE) would differ now
    b = export_catalog(parquet, fmt, tmp_path / f"b.{fmt}", hdf5_key="training_set")
    assert a.read_bytes() == b.read_bytes()


def test_hdf5_is_one_group_of_1d_columns(parquet, tmp_path):
    out = export_catalog(parquet, "hdf5", tmp_path / "c.hdf5", hdf5_key="training_set")
    with h5py.File(out, "r") as fh:
        assert list(fh.keys()) == ["training_set"]
        group = fh["training_set"]
        assert list(group.keys()) == catalog().column_names  # the table's column order
        for ds in group.values():
            assert isinstance(ds, h5py.Dataset) and ds.ndim == 1 and ds.shape == (1000,)
            assert "pandas_type" not in ds.attrs and "table" not in group
        assert group["id"].dtype == np.dtype("S8")
        assert h5py.check_string_dtype(group["survey"].dtype).encoding == "utf-8"
        assert group["survey"].dtype.itemsize == len("Ω-survey".encode())  # bytes, not chars
        assert group["mag_i"].dtype == np.float32
        assert group["n_candidates"].dtype == np.int64
        assert group["matched"].dtype == np.bool_
        assert group["z_flag_homogenized"].dtype == np.float64  # an integer column with nulls
        # what tables_io's read_HDF5_group_to_dict returns for the group: {name: np.array}
        as_tables_io = {name: np.array(ds) for name, ds in group.items()}
    assert as_tables_io["survey"][2].decode("utf-8") == "Ω-survey"
    assert np.isnan(as_tables_io["z"][0]) and np.isnan(as_tables_io["z_flag_homogenized"][0])


def test_hdf5_reads_back_with_pzforge_readers(parquet, tmp_path):
    out = export_catalog(parquet, "hdf5", tmp_path / "c.hdf5", hdf5_key="combined")
    want = pq.read_table(parquet).to_pandas()
    for key in (None, "combined"):  # the only group is found without a key too
        got = read_table(out, "hdf5", hdf5_key=key)
        assert list(got.columns) == list(want.columns)
        assert got["id"].tolist() == want["id"].tolist()
        assert got["survey"].tolist() == want["survey"].tolist()
        assert got["note"].tolist() == want["note"].fillna("").tolist()  # null text -> ''
        np.testing.assert_array_equal(got["z"].to_numpy(), want["z"].to_numpy(dtype=float))
        np.testing.assert_array_equal(
            got["z_flag_homogenized"].to_numpy(),
            want["z_flag_homogenized"].to_numpy(dtype=float, na_value=np.nan),
        )
        assert got["matched"].tolist() == want["matched"].tolist()


def test_hdf5_batches_and_chunks(tmp_path):
    """More rows than one chunk: batch boundaries and chunking do not change the values."""
    n = HDF5_CHUNK_ROWS + 1234
    table = pa.table({"id": [str(i) for i in range(n)], "x": np.arange(n, dtype=np.float64)})
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=10_000)
    out = export_catalog(tmp_path / "big.parquet", "hdf5", tmp_path / "big.hdf5")
    got = read_table(out, "hdf5")
    assert got["id"].tolist() == [str(i) for i in range(n)]
    np.testing.assert_array_equal(got["x"].to_numpy(), np.arange(n))


def test_empty_catalog_exports(tmp_path):
    empty = catalog().slice(0, 0)
    pq.write_table(empty, tmp_path / "e.parquet")
    for fmt in ("csv", "fits", "hdf5"):
        export_catalog(tmp_path / "e.parquet", fmt, tmp_path / f"e.{fmt}", hdf5_key="combined")
    with h5py.File(tmp_path / "e.hdf5", "r") as fh:
        assert [fh["combined"][c].shape for c in fh["combined"]] == [(0,)] * empty.num_columns


def test_unsupported_column_type_names_the_column(tmp_path):
    pq.write_table(pa.table({"when": pa.array([1, 2], pa.timestamp("s"))}), tmp_path / "t.pq")
    with pytest.raises(InputDataError, match="column 'when' has type timestamp"):
        export_catalog(tmp_path / "t.pq", "hdf5", tmp_path / "t.hdf5")


def test_pandas_hdfstore_files_are_still_read(tmp_path):
    """Inputs written by pandas (HDFStore) stay readable: only our exports changed layout."""
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    df.to_hdf(tmp_path / "p.h5", key="cat", format="table")
    pd.testing.assert_frame_equal(read_table(tmp_path / "p.h5", "hdf5"), df)
