"""The RAIL output of the Training Set Maker, read back the way RAIL reads it (RAIL not installed).

Citations (pz-rail-base 2.0.11, tables-io 1.1.3; /work/research/rail.md):

- SHARED_PARAMS defaults, ``rail/core/common_params.py``: hdf5_groupname "photometry",
  redshift_col "redshift", bands mag_{b}_lsst, err_bands mag_err_{b}_lsst (b in ugrizy),
  ref_band "mag_i_lsst", nondetect_val 99.0, nonobserved_val -99.0, id_col "object_id";
- ``tables_io/types.py``: the suffix picks the reader; ``.hdf5`` -> h5py, ``.pq`` -> pandas;
- ``tables_io/io_utils/read.py`` read_HDF5_to_dicts / read_HDF5_group_to_dict: a group becomes
  ``{dataset name: np.array(dataset)}``; one key named "" is unwrapped (``.pq`` -> a DataFrame);
- KNearNeighInformer.run (``rail/estimation/algos/k_nearneigh.py:98-117``, pz-rail-sklearn
  2.0.3): ``training_data = data[hdf5_groupname]`` (or data itself when it is ""),
  ``pd.DataFrame(training_data, columns=bands)``, ``np.isclose(col, nondetect_val)`` replaced by
  ``mag_limits[col]``, ``np.array(training_data[redshift_col])``.
"""

from __future__ import annotations

import json
from collections import OrderedDict

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pzforge.errors import InputDataError
from pzforge.training_set.rail import rail_path, rail_table, write_rail

BANDS = ["u", "g", "r", "i", "z", "y"]
RAIL_REQUIRED = (
    ["redshift"] + [f"mag_{b}_lsst" for b in BANDS] + [f"mag_err_{b}_lsst" for b in BANDS]
)


def training_table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "id": [f"ref{i:03d}" for i in range(n)],
            "z": rng.uniform(0.1, 2.0, n),
            "subset": np.where(np.arange(n) % 5 == 0, "test", "train"),
        }
    )
    for b in BANDS:
        df[f"mag_{b}"] = rng.uniform(20, 25, n)
        df[f"magerr_{b}"] = rng.uniform(0.01, 0.2, n)
        df[f"status_{b}"] = np.zeros(n, dtype=np.int8)
    # u: three non-detections (nan policy: NaN magnitude) and one upper limit (finite, NaN error)
    df.loc[[0, 1, 2], ["mag_u", "magerr_u"]] = np.nan
    df.loc[3, "magerr_u"] = np.nan
    df.loc[[0, 1, 2, 3], "status_u"] = 1
    # y: one band without a measurement
    df.loc[5, ["mag_y", "magerr_y"]] = np.nan
    df.loc[5, "status_y"] = 2
    return df


def read_like_tables_io(path) -> OrderedDict:
    """tables_io.read for a .hdf5 file: {top-level name: {dataset: np.array}}."""
    out = OrderedDict()
    with h5py.File(path, "r") as fin:
        for key, val in fin.items():
            if isinstance(val, h5py.Dataset):
                out[key] = np.array(val)
            else:
                out[key] = OrderedDict((k, np.array(v)) for k, v in val.items())
    return out


def knn_inform_inputs(data, cfg: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """What KNearNeighInformer.run does with the data before fitting (see the module doc)."""
    training_data = data[cfg["hdf5_groupname"]] if cfg["hdf5_groupname"] else data
    knndf = pd.DataFrame(training_data, columns=cfg["bands"])
    for col in cfg["bands"]:
        knndf.loc[np.isclose(knndf[col], cfg["nondetect_val"]), col] = np.float32(
            cfg["mag_limits"][col]
        )
    return knndf, np.array(training_data[cfg["redshift_col"]])


def assert_rail_layout(path, group="photometry", id_col="object_id") -> int:
    """rail.md section 3: the layout RAIL's default configuration reads, checked with h5py."""
    with h5py.File(path, "r") as f:
        assert group in f, f"missing top-level group {group!r}: {list(f)}"
        g = f[group]
        assert isinstance(g, h5py.Group)
        assert "table" not in g and "block0_values" not in g  # not a pandas HDFStore
        missing = set(RAIL_REQUIRED + [id_col]) - set(g.keys())
        assert not missing, f"missing datasets: {sorted(missing)}"
        lengths = set()
        for name, obj in g.items():
            assert isinstance(obj, h5py.Dataset), f"{name} is not a dataset"  # no nested groups
            assert obj.ndim == 1, f"{name} has shape {obj.shape}"
            lengths.add(obj.shape[0])
        assert len(lengths) == 1, f"ragged columns: {lengths}"
        assert g["redshift"].dtype.kind == "f"
        assert np.all(np.isfinite(g["redshift"][()]))
        for b in BANDS:
            for c in (f"mag_{b}_lsst", f"mag_err_{b}_lsst"):
                assert g[c].dtype.kind == "f", (c, g[c].dtype)
                assert not np.any(np.isnan(g[c][()])), f"NaN in {c}; RAIL's nondetect_val is 99"
        return lengths.pop()


def test_hdf5_output_has_rails_default_layout_and_loads_like_an_informer(tmp_path):
    df = training_table()
    pq_in = tmp_path / "training_set.parquet"
    df.to_parquet(pq_in)
    out, report_path = rail_path(tmp_path, "training_set", "hdf5"), tmp_path / "rail.json"
    report = write_rail(pq_in, BANDS, {"format": "hdf5"}, out, report_path)
    assert out.name == "training_set_rail.hdf5"
    assert assert_rail_layout(out) == len(df) - 1  # the row without a y measurement is dropped
    assert report["dropped"] == {"no measurement in a band": 1}
    cfg = json.loads(report_path.read_text())["stage_config"]
    # RAIL's defaults: a stage reads this file with no overrides but mag_limits
    assert cfg["hdf5_groupname"] == "photometry" and cfg["redshift_col"] == "redshift"
    assert cfg["bands"] == [f"mag_{b}_lsst" for b in BANDS]
    assert cfg["err_bands"] == [f"mag_err_{b}_lsst" for b in BANDS]
    assert cfg["ref_band"] == "mag_i_lsst" and cfg["id_col"] == "object_id"
    assert cfg["nondetect_val"] == 99.0 and set(cfg["mag_limits"]) == set(cfg["bands"])

    data = read_like_tables_io(out)
    assert list(data) == ["photometry"]
    mags, z = knn_inform_inputs(data, cfg)
    assert np.isfinite(mags.to_numpy()).all() and len(z) == len(df) - 1
    u = data["photometry"]["mag_u_lsst"]
    assert (u == 99.0).sum() == 4  # three NaN non-detections and the upper limit
    assert np.all(
        data["photometry"]["mag_err_u_lsst"][u == 99.0] == cfg["mag_limits"]["mag_u_lsst"]
    )
    assert (mags["mag_u_lsst"] == np.float32(cfg["mag_limits"]["mag_u_lsst"])).sum() == 4
    kept = df.drop(index=5)
    np.testing.assert_array_equal(z, kept["z"].to_numpy())
    assert [v.decode() for v in data["photometry"]["object_id"]] == kept["id"].tolist()
    np.testing.assert_array_equal(data["photometry"]["mag_r_lsst"], kept["mag_r"].to_numpy())


def test_depth_is_the_median_one_sigma_limit(tmp_path):
    df = training_table()
    _, report = rail_table(df, BANDS, {})
    ok = df["status_r"] == 0
    want = np.median(
        df.loc[ok, "mag_r"] + 2.5 * np.log10(2.5 / np.log(10) / df.loc[ok, "magerr_r"])
    )
    assert report["stage_config"]["mag_limits"]["mag_r_lsst"] == pytest.approx(want, abs=1e-4)
    _, report = rail_table(df, BANDS, {"mag_limits": {"u": 26.5}})
    assert report["stage_config"]["mag_limits"]["mag_u_lsst"] == 26.5


@pytest.mark.parametrize(("policy", "value"), [("nonobserved", -99.0), ("nondetection", 99.0)])
def test_no_measurement_policies(policy, value):
    arrow, report = rail_table(training_table(), BANDS, {"no_measurement": policy})
    assert arrow.num_rows == 40 and report["dropped"] == {}
    assert arrow.column("mag_y_lsst")[5].as_py() == value


def test_pq_output_is_flat_and_read_as_a_dataframe(tmp_path):
    df = training_table()
    df.to_parquet(tmp_path / "t.parquet")
    out = rail_path(tmp_path, "train", "pq")
    report = write_rail(tmp_path / "t.parquet", BANDS, {"format": "pq"}, out, tmp_path / "r.json")
    assert out.suffix == ".pq"  # .parquet would make tables_io return a pyarrow Table
    cfg = report["stage_config"]
    assert cfg["hdf5_groupname"] == ""  # a flat table: the stage reads the DataFrame itself
    frame = pq.read_table(out).to_pandas()  # tables_io's read_pq_to_dataframes, key "" unwrapped
    mags, z = knn_inform_inputs(frame, cfg)
    assert set(RAIL_REQUIRED) <= set(frame.columns) and len(z) == 39
    assert np.isfinite(mags.to_numpy()).all()


def test_non_lsst_bands_get_plain_names_and_byte_identical_reruns(tmp_path):
    df = training_table().rename(columns=lambda c: c.replace("_u", "_f160w"))
    bands = ["f160w", "g", "r", "i", "z", "y"]
    df.to_parquet(tmp_path / "t.parquet")
    files = []
    for name in ("a", "b"):
        out = rail_path(tmp_path / name, "training_set", "hdf5")
        out.parent.mkdir()
        report = write_rail(tmp_path / "t.parquet", bands, {}, out, tmp_path / name / "r.json")
        files.append(out.read_bytes())
    assert files[0] == files[1]
    assert report["stage_config"]["bands"][0] == "mag_f160w"  # no misleading _lsst suffix
    assert report["stage_config"]["err_bands"][0] == "mag_err_f160w"


def test_missing_status_or_depth_are_clear_errors():
    df = training_table().drop(columns="status_g")
    with pytest.raises(InputDataError, match="status_g not found"):
        rail_table(df, BANDS, {})
    df = training_table()
    df["status_g"] = 1
    with pytest.raises(InputDataError, match=r"band g, so its limiting magnitude .*mag_limits"):
        rail_table(df, BANDS, {})


def test_empty_training_set_gives_an_empty_rail_file(tmp_path):
    empty = training_table().iloc[:0]
    empty.to_parquet(tmp_path / "e.parquet")
    out = rail_path(tmp_path, "training_set", "hdf5")
    report = write_rail(tmp_path / "e.parquet", BANDS, {}, out, tmp_path / "e.json")
    assert report["rows"] == 0 and assert_rail_layout(out) == 0
