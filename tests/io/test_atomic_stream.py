"""The streamed atomic Parquet writer: all or nothing, also when the stream fails half-way."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pzforge.io import write_parquet_stream


def test_tables_one_at_a_time_make_one_file_with_the_first_schema(tmp_path):
    out = tmp_path / "t.parquet"
    first = pa.table({"a": pa.array([1, 2], pa.int64()), "s": pa.array(["x", None])})
    second = pa.table({"a": pa.array([3], pa.int32()), "s": pa.array([None], pa.null())})
    assert write_parquet_stream(iter([first, second]), out) == 3
    table = pq.read_table(out)
    assert table.schema == first.schema and table.column("a").to_pylist() == [1, 2, 3]


def test_a_stream_that_fails_half_way_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "t.parquet"
    out.write_bytes(b"an earlier, complete file")

    def tables():
        yield pa.table({"a": [1, 2]})
        raise RuntimeError("the second chunk failed")

    with pytest.raises(RuntimeError, match="second chunk"):
        write_parquet_stream(tables(), out)
    assert out.read_bytes() == b"an earlier, complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    with pytest.raises(ValueError, match="no table"):
        write_parquet_stream(iter([]), tmp_path / "empty.parquet")
    assert not (tmp_path / "empty.parquet").exists()
