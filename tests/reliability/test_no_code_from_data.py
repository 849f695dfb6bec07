"""Finding 2: reading data never executes code. One payload per input format; each test checks
the payload's marker file was never created and nothing was registered."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import registry
from pzforge import io
from pzforge.errors import ConfigError, InputDataError
from tests.reliability.conftest import one_line_error


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "PAYLOAD_RAN"
    yield path
    assert not path.exists(), "a payload in a data file was executed"


def fixed_hdf5_with_pickles(path: Path, marker: Path) -> Path:
    """pandas' fixed format stores an object column as pickles (what pd.read_hdf unpickles)."""
    df = pd.DataFrame({"ra": [1.0, 2.0], "dec": [1.0, 2.0], "z": [0.1, 0.2]})
    df["note"] = pd.Series([Payload(marker), Payload(marker)], dtype=object)
    with pd.HDFStore(path, mode="w") as store:
        store.put("cat", df, format="fixed")
    return path


def table_hdf5_with_pickled_attribute(path: Path, marker: Path) -> Path:
    """pandas' table format keeps column names as pickled attributes: replace one."""
    pd.DataFrame({"ra": [1.0], "dec": [1.0], "z": [0.1]}).to_hdf(path, key="cat", format="table")
    with h5py.File(path, "r+") as fh:
        fh["cat/table"].attrs["values_block_0_kind"] = np.bytes_(pickle.dumps(Payload(marker), 0))
    return path


@pytest.mark.parametrize("make", [fixed_hdf5_with_pickles, table_hdf5_with_pickled_attribute])
def test_hdf5_payloads_are_refused_by_every_reader(tmp_path, marker, make):
    path = make(tmp_path / "evil.h5", marker)
    with pytest.raises(registry.ValidationError, match="never unpickles"):
        registry.formats.read_table(path, "hdf5")
    with pytest.raises(InputDataError, match="never unpickles"):
        io.read_table(path, "hdf5")  # what a pipeline's ingest uses
    reg = registry.open(f"sqlite:///{tmp_path / 'r.sqlite'}", user="alice")
    cols = [registry.ColumnSpec(c, c) for c in ("ra", "dec", "z")]
    with pytest.raises(registry.ValidationError):
        reg.upload("evil", registry.REFERENCE_REDSHIFT_CATALOG, path, columns=cols)
    assert reg.list_products() == []
    assert not any((tmp_path / "pzforge_storage" / "products").glob("*"))


def test_hdf5_upload_through_the_cli_is_one_line(site, marker):
    path = fixed_hdf5_with_pickles(site.root / "evil.h5", marker)
    proc = site.cli("products", "upload", "evil", path, "-C", "ra=ra", "-C", "dec=dec",
                    "-C", "z=z", "--registry", site.url)  # fmt: skip
    assert "never unpickles" in one_line_error(proc) and "'note'" in proc.stderr
    assert registry.open(site.url).list_products() == []


def test_plain_hdf5_layouts_still_read(tmp_path):
    df = pd.DataFrame({"ra": [1.0, 2.0], "name": ["a", "bb"]})
    df.to_hdf(tmp_path / "t.h5", key="cat", format="table")
    with h5py.File(tmp_path / "g.h5", "w") as fh:  # RAIL / tables_io style
        fh["photometry/ra"] = np.array([1.0, 2.0])
        fh["photometry/name"] = np.array([b"a", b"bb"])
    for name, key in (("t.h5", None), ("g.h5", "photometry")):
        got = registry.formats.read_table(tmp_path / name, "hdf5", hdf5_key=key)
        assert got["ra"].tolist() == [1.0, 2.0] and list(got["name"]) == ["a", "bb"]


def test_parquet_with_a_pickled_extension_type_is_plain_data(tmp_path, marker):
    field = pa.field(
        "z",
        pa.float64(),
        metadata={
            b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": pickle.dumps(Payload(marker)),
        },
    )
    path = tmp_path / "evil.parquet"
    pq.write_table(pa.table({"z": [0.1]}, schema=pa.schema([field])), path)
    assert registry.formats.read_table(path, "parquet")["z"].tolist() == [0.1]
    assert io.read_table(path, "parquet")["z"].tolist() == [0.1]


@pytest.mark.parametrize("fmt", ["csv", "fits"])
def test_code_in_text_values_stays_text(tmp_path, marker, fmt):
    code = f"__import__('os').system('touch {marker}')"
    df = pd.DataFrame({"ra": [1.0], "dec": [1.0], "z": [0.1], "note": [code]})
    path = tmp_path / f"cat.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        from astropy.table import Table

        Table.from_pandas(df).write(path)
    assert registry.formats.read_table(path, fmt)["note"].tolist() == [code]


@pytest.mark.parametrize("where", ["config", "surveys"])
def test_yaml_with_python_tags_is_refused(tmp_path, marker, where):
    from pzforge.combine.homogenize import RuleBook
    from pzforge.config import read_yaml

    tagged = f"x: !!python/object/apply:os.system ['touch {marker}']\n"
    path = tmp_path / f"{where}.yaml"
    path.write_text(tagged)
    with pytest.raises((ConfigError, Exception)) as info:
        read_yaml(path) if where == "config" else RuleBook.load(path)
    assert "python/object" in str(info.value) or "could not determine" in str(info.value)
