"""Streaming ingest: chunks give exactly what reading the whole file gives.

``registry.formats.iter_table`` against ``read_table`` for every format and layout, and
``ingest_to_parquet`` (chunks of a few rows) against ``ingest_catalog`` + ``write_ingested``
(the whole catalog), table for table, stats for stats, error for error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pzforge.combine.homogenize import RuleBook
from pzforge.combine.ingest import ingest_catalog, ingest_to_parquet, write_ingested
from pzforge.errors import PzforgeError
from pzforge.paths import CONFIG_DIR
from pzforge.pipelines import validate as validate_config
from registry import formats

BOOK = RuleBook.load(CONFIG_DIR / "surveys.yaml")


def mixed(n: int = 23) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "ID": [f"o{i}" for i in range(n)],
            "RA": np.where(np.arange(n) % 7 == 3, np.nan, rng.uniform(0, 360, n)),
            "DEC": rng.uniform(-90, 90, n),
            "Z": np.where(np.arange(n) % 5 == 1, -99.0, np.round(rng.uniform(0, 2, n), 4)),
            "Q": rng.choice([1, 2, 3, 4, 5], n),
            "NAME": [("" if i % 6 == 2 else f" n{i} ") for i in range(n)],
            "K": np.arange(n, dtype=np.int32),
        }
    )


def write(df: pd.DataFrame, path, fmt: str, layout: str = "table") -> None:
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path)
    elif fmt == "fits":
        from astropy.table import Table

        Table.from_pandas(df).write(path)
    elif layout == "table":
        df.to_hdf(path, key="t", format="table")
    elif layout == "fixed":
        df.select_dtypes("number").to_hdf(path, key="t", format="fixed")
    else:
        import h5py

        with h5py.File(path, "w") as fh:
            if layout == "group":
                g = fh.create_group("t")
                for col in df.columns:
                    values = df[col].to_numpy()
                    g[col] = values.astype("S") if values.dtype == object else values
            else:  # compound
                rec = df.select_dtypes("number").to_records(index=False)
                fh["t"] = rec


CASES = [
    ("csv", "table"),
    ("parquet", "table"),
    ("fits", "table"),
    ("hdf5", "table"),
    ("hdf5", "fixed"),
    ("hdf5", "group"),
    ("hdf5", "compound"),
]


@pytest.mark.parametrize(("fmt", "layout"), CASES)
@pytest.mark.parametrize("chunk_rows", [1, 4, 23, 1000])
def test_chunks_concatenate_to_the_whole_table(tmp_path, fmt, layout, chunk_rows):
    path = tmp_path / f"c.{fmt}"
    write(mixed(), path, fmt, layout)
    key = "t" if fmt == "hdf5" else None
    whole = formats.read_table(path, fmt, hdf5_key=key)
    chunks = list(formats.iter_table(path, fmt, chunk_rows=chunk_rows, hdf5_key=key))
    assert all(len(c) <= chunk_rows for c in chunks)
    assert [c.index[0] for c in chunks] == list(range(0, len(whole), chunk_rows))
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)
    cols = list(whole.columns[1:3])
    part = pd.concat(formats.iter_table(path, fmt, cols, chunk_rows=chunk_rows, hdf5_key=key))
    pd.testing.assert_frame_equal(part, formats.read_table(path, fmt, cols, hdf5_key=key))


def test_hats_chunks(tmp_path):
    import lsdb

    df = mixed(40).dropna()
    lsdb.from_dataframe(df, ra_column="RA", dec_column="DEC", lowest_order=2).write_catalog(
        tmp_path / "h", as_collection=False, progress_bar=False
    )
    whole = formats.read_table(tmp_path / "h", "hats")
    got = pd.concat(formats.iter_table(tmp_path / "h", "hats", chunk_rows=3))
    pd.testing.assert_frame_equal(got, whole)


def test_real_hdf5_files_in_chunks(shared_data):
    for name, key in [
        ("test_dc2_training_9816.hdf5", "photometry"),
        ("tiny_object_catalog_for_tests_des_dr2.hdf5", None),
    ]:
        path = shared_data / "photometry" / name
        try:
            whole = formats.read_table(path, "hdf5", hdf5_key=key)
        except formats.ValidationError:
            continue
        got = pd.concat(formats.iter_table(path, "hdf5", chunk_rows=1000, hdf5_key=key))
        pd.testing.assert_frame_equal(got, whole)


def config_for(path, **kw):
    spec = {
        "name": "t",
        "path": str(path),
        "columns": {"id": "ID", "ra": "RA", "dec": "DEC", "z": "Z", "z_flag": "Q"},
        "survey": {"value": "2dFGRS"},
        "extra_columns": {"K": "int32"},
    }
    spec.update(kw.pop("spec", {}))
    cfg = validate_config({"catalogs": [spec], **kw})
    return cfg["catalogs"][0], cfg["validation"], cfg["homogenization"]


def whole_vs_stream(tmp_path, spec, val, hom, extra, chunk_rows=4):
    """Both ways, or both errors: (tables equal, stats equal) or the two messages."""
    whole_err = stream_err = None
    try:
        df, stats = ingest_catalog(spec, val, hom, BOOK)
        for name in extra:
            if name not in df.columns:
                df[name] = None
        write_ingested(df, extra, tmp_path / "whole.parquet")
    except PzforgeError as exc:
        whole_err = str(exc)
    try:
        got = ingest_to_parquet(
            spec, val, hom, BOOK, extra, tmp_path / "stream.parquet", chunk_rows=chunk_rows
        )
    except PzforgeError as exc:
        stream_err = str(exc)
    assert whole_err == stream_err
    if whole_err is None:
        a = pq.read_table(tmp_path / "whole.parquet")
        b = pq.read_table(tmp_path / "stream.parquet")
        assert a.schema.equals(b.schema, check_metadata=True)
        assert a.equals(b)
        assert got.to_dict() == stats.to_dict()
        assert list(got.dropped) == list(stats.dropped)
    return whole_err


@pytest.mark.parametrize("fmt", ["csv", "parquet", "fits", "hdf5"])
def test_stream_equals_whole(tmp_path, fmt):
    path = tmp_path / f"c.{fmt}"
    write(mixed(), path, fmt)
    extra = {"K": "int32", "other": "float64"}
    kw = {"spec": {"hdf5_key": "t"}} if fmt == "hdf5" else {}
    spec, val, hom = config_for(path, validation={"on_invalid": "drop"}, **kw)
    assert whole_vs_stream(tmp_path, spec, val, hom, extra) is None
    spec, val, hom = config_for(
        path, validation={"on_invalid": "drop", "no_redshift": "keep"}, **kw
    )
    assert whole_vs_stream(tmp_path, spec, val, hom, extra) is None


def test_stream_errors_are_the_whole_files(tmp_path):
    path = tmp_path / "c.parquet"
    write(mixed(), path, "parquet")
    spec, val, hom = config_for(path, validation={"on_invalid": "error"})
    assert "rows with" in whole_vs_stream(tmp_path, spec, val, hom, {"K": "int32"})
    df = mixed()
    df.loc[17, "ID"] = "o2"  # an id repeated in another chunk
    df.to_parquet(path)
    spec, val, hom = config_for(path, validation={"on_invalid": "drop"})
    assert "not unique" in whole_vs_stream(tmp_path, spec, val, hom, {"K": "int32"})
    spec, val, hom = config_for(
        path, validation={"on_invalid": "drop"}, spec={"on_duplicate_id": "suffix"}
    )
    assert whole_vs_stream(tmp_path, spec, val, hom, {"K": "int32"}) is None
    df = mixed()
    df["Z"] = -99.0
    df.to_parquet(path)
    spec, val, hom = config_for(path, validation={"on_invalid": "drop"})
    assert "no valid row" in whole_vs_stream(tmp_path, spec, val, hom, {"K": "int32"})


def test_sample_catalogs_stream_as_whole(tmp_path, sample_catalogs):
    import yaml

    cfg = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text())
    extra = {"MAGI": "float64"}
    for entry in cfg["catalogs"]:
        entry = dict(entry, path=str(sample_catalogs[entry["name"]]))
        spec, val, hom = config_for(entry["path"], spec={**entry, "extra_columns": {}})
        spec["extra_columns"] = entry.get("extra_columns", {})
        assert whole_vs_stream(tmp_path, spec, val, hom, extra, chunk_rows=97) is None
