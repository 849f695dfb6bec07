"""Training Set Maker: photometry, many-to-one, split, border-exact crossmatch, real data, CLI.

Unit tests run in-process on tiny data (HATS catalogs built with lsdb.from_dataframe); one
module-scoped end-to-end run (real ASTRODEEP photometry x real spec-z samples registered as a
Reference Redshift Catalog product) is inspected by several tests.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pzforge.errors import ConfigError, InputDataError
from pzforge.paths import SHIPPED_SURVEYS_FILE
from pzforge.pipelines import validate as validate_config
from pzforge.training_set import photometry
from pzforge.training_set.build import build_training_set
from pzforge.training_set.crossmatch import crossmatch, reference_matches, resolve_many_to_one
from pzforge.training_set.inputs import ingest_photometry
from pzforge.training_set.split import assign_subset
from registry.formats import read_table
from tests.support.cli import pzforge
from tests.support.specz import SPECZ

LSST_BANDS = ["u", "g", "r", "i", "z", "y"]


def base_config(**overrides) -> dict:
    cfg = {
        "pipeline": "training_set",
        "reference": {"path": __file__},  # any existing file; replaced where it matters
        "photometry": {"path": __file__},
    }
    for key, value in overrides.items():
        cfg[key] = value
    return validate_config(cfg)


# --- flux to magnitude -----------------------------------------------------------------------------


def test_flux_to_mag_values_and_errors():
    mag, err = photometry.flux_to_mag(np.array([1e4, 1.0, 3631e9]), np.array([1e3, 0.1, 0.0]))
    np.testing.assert_allclose(mag, [21.4, 31.4, 31.4 - 2.5 * math.log10(3631e9)])
    np.testing.assert_allclose(err, [2.5 / math.log(10) * 0.1, 2.5 / math.log(10) * 0.1, 0.0])
    mag_u, _ = photometry.flux_to_mag(np.array([1.0]), None, unit="uJy")
    assert mag_u[0] == pytest.approx(23.9)
    # 1 uJy is 1000 nJy: the same magnitude either way
    assert photometry.flux_to_mag(np.array([1000.0]))[0][0] == pytest.approx(23.9)


def test_zero_and_negative_fluxes_give_nan_not_warnings():
    with np.errstate(all="raise"):
        mag, err = photometry.flux_to_mag(
            np.array([0.0, -5.0, np.nan, 10.0]), np.array([1.0, 1.0, 1.0, -1.0])
        )
    assert np.isnan(mag[:3]).all() and np.isfinite(mag[3])
    assert np.isnan(err).all()  # negative error -> no error


def _phot(**kw):
    phot = {
        "bands": ["g", "r"],
        "flux_type": "cModel",
        "value_column": "{band}_{flux_type}Flux",
        "error_column": "{band}_{flux_type}FluxErr",
        "quantity": "flux",
        "flux_unit": "nJy",
        "missing_values": [-99.0],
        "nondetection_values": [],
        "min_snr": None,
    }
    phot.update(kw)
    return phot


def _mags(**kw):
    mags = {
        "compute": True,
        "keep_fluxes": True,
        "non_detection": "nan",
        "sentinel": 99.0,
        "upper_limit_nsigma": 1.0,
        "dereddening": {"enabled": False, "coefficients": {}},
    }
    mags.update(kw)
    return mags


FLUXES = pd.DataFrame(
    {
        "g_cModelFlux": [1e4, 0.0, -20.0, -99.0, np.nan],
        "g_cModelFluxErr": [1e2, 10.0, 10.0, -99.0, np.nan],
        "r_cModelFlux": [1e3, 1e3, 1e3, 1e3, 1e3],
        "r_cModelFluxErr": [10.0, 10.0, 10.0, 10.0, 10.0],
    }
)


@pytest.mark.parametrize("policy", ["nan", "sentinel", "upper_limit"])
def test_non_detection_policies_and_counts(policy):
    out, stats = photometry.compute_magnitudes(FLUXES, _phot(), _mags(non_detection=policy))
    g, gerr = out["mag_g"].to_numpy(), out["magerr_g"].to_numpy()
    assert g[0] == pytest.approx(21.4) and gerr[0] == pytest.approx(2.5 / math.log(10) * 0.01)
    counts = stats.bands["g"]
    assert counts["measured"] == 1 and counts["non_detection"] == 2
    assert counts["no_measurement"] == 2  # -99 and NaN
    assert stats.bands["r"]["measured"] == 5
    if policy == "nan":
        assert np.isnan(g[1:]).all() and np.isnan(gerr[1:]).all()
    elif policy == "sentinel":
        assert (g[1:] == 99.0).all() and (gerr[1:] == 99.0).all()
    else:
        limit = -2.5 * math.log10(10.0) + 31.4
        np.testing.assert_allclose(g[1:3], [limit, limit])
        assert np.isnan(gerr[1:3]).all()  # finite magnitude + NaN error = upper limit
        assert np.isnan(g[3:]).all()  # no measurement is never a limit
        assert counts["upper_limit"] == 2


def test_upper_limit_uses_nsigma_and_flux_unit():
    df = pd.DataFrame({"f_K": [-0.5], "e_K": [0.1]})
    phot = _phot(bands=["K"], value_column="f_{band}", error_column="e_{band}", flux_unit="uJy")
    out, _ = photometry.compute_magnitudes(
        df, phot, _mags(non_detection="upper_limit", upper_limit_nsigma=3)
    )
    assert out["mag_K"].iloc[0] == pytest.approx(-2.5 * math.log10(0.3) + 23.9)


def test_min_snr_counts_low_significance_as_non_detection():
    out, stats = photometry.compute_magnitudes(FLUXES, _phot(min_snr=200.0), _mags())
    assert stats.bands["r"]["non_detection"] == 5  # S/N 100 < 200
    assert out["mag_r"].isna().all()


def test_magnitude_inputs_with_des_sentinels():
    df = pd.DataFrame(
        {
            "mag_u": [-99.0, -99.0],
            "magerr_u": [-99.0, -99.0],
            "mag_g": [22.5, 99.0],
            "magerr_g": [0.05, 99.0],
        }
    )
    phot = _phot(
        bands=["u", "g"],
        quantity="magnitude",
        value_column="mag_{band}",
        error_column="magerr_{band}",
        missing_values=[-99.0],
        nondetection_values=[99.0],
    )
    out, stats = photometry.compute_magnitudes(df, phot, _mags())
    assert out["mag_u"].isna().all() and stats.bands["u"]["no_measurement"] == 2
    assert out["mag_g"].iloc[0] == 22.5 and np.isnan(out["mag_g"].iloc[1])
    assert stats.bands["g"] == {"measured": 1, "no_measurement": 0, "non_detection": 1}


def test_dereddening_subtracts_r_times_ebv_and_leaves_sentinels():
    df = FLUXES.assign(ebv=[0.1, 0.1, 0.1, 0.1, 0.1])
    mags = _mags(
        non_detection="sentinel",
        dereddening={"enabled": True, "ebv_column": "ebv", "coefficients": {"g": 3.64, "r": 2.70}},
    )
    out, stats = photometry.compute_magnitudes(df, _phot(), mags)
    assert stats.dereddened
    assert out["mag_g"].iloc[0] == pytest.approx(21.4 - 0.364)
    assert out["mag_r"].iloc[0] == pytest.approx(23.9 - 0.270)
    assert (out["mag_g"].iloc[1:] == 99.0).all()


def test_dereddening_config_rules():
    with pytest.raises(ConfigError, match="ebv_column"):
        base_config(magnitudes={"dereddening": {"enabled": True, "coefficients": {}}})
    with pytest.raises(ConfigError, match="band"):
        base_config(
            photometry={"path": __file__, "ebv_column": "ebv"},
            magnitudes={"dereddening": {"enabled": True, "coefficients": {"u": 4.8}}},
        )


def test_missing_band_columns_name_the_band(shared_data):
    path = shared_data / "photometry" / "rubin_dm_dc2_example.pq"
    import pyarrow.parquet as pq

    available = pq.read_schema(path).names
    phot = base_config(photometry={"path": str(path), "flux_type": "cModel"})["photometry"]
    with pytest.raises(InputDataError, match=r"band 'u' \('u_cModelFlux', 'u_cModelFluxErr'\)"):
        photometry.check_band_columns(phot, available, str(path))
    phot["flux_type"] = "gaap1p0"
    photometry.check_band_columns(phot, available, str(path))


# --- config rules ---------------------------------------------------------------------------


def test_config_needs_exactly_one_reference_and_a_wide_margin():
    with pytest.raises(ConfigError, match="exactly one"):
        validate_config({"pipeline": "training_set", "photometry": {"path": "x"}})
    with pytest.raises(ConfigError, match="margin_threshold_arcsec"):
        base_config(crossmatch={"radius_arcsec": 6.0})
    with pytest.raises(ConfigError, match="upper_limit needs flux"):
        base_config(
            photometry={"path": __file__, "quantity": "magnitude"},
            magnitudes={"non_detection": "upper_limit"},
        )
    cfg = base_config()
    assert cfg["crossmatch"] == {"radius_arcsec": 1.0, "n_neighbors": 1}
    assert cfg["photometry"]["columns"] == {"id": "objectId", "ra": "ra", "dec": "decl"}


# --- split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 10, 333, 1000])
@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.8, 1.0])
def test_random_split_fraction_is_exact_to_one_row(n, fraction):
    df = pd.DataFrame({"id": [f"x{i}" for i in range(n)]})
    subset = assign_subset(df, {"method": "random", "training_fraction": fraction, "seed": 1})
    n_train = int((subset == "train").sum())
    assert abs(n_train - fraction * n) <= 0.5
    assert set(subset.unique()) <= {"train", "test"}


def test_random_split_is_seeded_and_independent_of_row_order():
    df = pd.DataFrame({"id": [f"x{i}" for i in range(500)]})
    split = {"method": "random", "training_fraction": 0.7, "seed": 7}
    a = assign_subset(df, split)
    shuffled = df.sample(frac=1.0, random_state=3)
    b = assign_subset(shuffled, split).reindex(df.index)
    pd.testing.assert_series_equal(a, b)
    c = assign_subset(df, {**split, "seed": 8})
    assert (a != c).any()


def test_split_from_a_column():
    df = pd.DataFrame({"id": ["a", "b", "c"], "is_train": [True, False, True]})
    subset = assign_subset(df, {"method": "column", "column": "is_train", "train_values": [True]})
    assert subset.tolist() == ["train", "test", "train"]
    with pytest.raises(InputDataError, match="nope"):
        assign_subset(df, {"method": "column", "column": "nope"})


# --- many-to-one --------------------------------------------------------------------------------


def test_many_to_one_keeps_best_flag_then_nearest_then_smallest_id():
    m = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "phot_id": [1, 1, 2, 2, 3, 3, 4, 4],
            "z_flag_homogenized": pd.array([3, 4, 3, 3, 3, 3, pd.NA, 1], dtype="Int8"),
            "sep_arcsec": [0.1, 0.9, 0.5, 0.2, 0.3, 0.3, 0.1, 0.8],
        }
    )
    kept, dropped = resolve_many_to_one(m)
    # 1: best flag wins although farther; 2: equal flags, nearest; 3: all equal, smallest id;
    # 4: an unknown flag ranks below any known flag
    assert kept["id"].tolist() == ["b", "d", "e", "h"]
    assert sorted(dropped["id"]) == ["a", "c", "f", "g"]


# --- crossmatch correctness at tile borders --------------------------------------------------------


def to_hats(df: pd.DataFrame, ra: str, dec: str, path: Path, margin: Path | None = None, rows=400):
    import dask
    import lsdb

    cat = lsdb.from_dataframe(
        df,
        ra_column=ra,
        dec_column=dec,
        partition_rows=rows,
        highest_order=7,
        margin_threshold=5.0 if margin else None,
    )
    with dask.config.set(scheduler="threads"):
        cat.write_catalog(str(path), as_collection=False, overwrite=True, progress_bar=False)
        if margin:
            cat.margin.write_catalog(str(margin), overwrite=True, progress_bar=False)
    return cat


def _offset(ra, dec, sep_arcsec, angle):
    sep = sep_arcsec / 3600.0
    return ra + sep * np.sin(angle) / np.cos(np.radians(dec)), dec + sep * np.cos(angle)


def planted(n=6000, n_border=600, seed=5, radius=1.0, border_order=6):
    """Spectroscopic points with photometric counterparts offset by up to 1.3 radius, plus field
    objects; ``n_border`` pairs are planted across HEALPix borders of ``border_order`` (so across
    tile borders of every partitioning at that order or finer)."""
    import hats.pixel_math.healpix_shim as hp

    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(150.0, 152.0, n), rng.uniform(1.0, 3.0, n)
    pra, pdec = _offset(ra, dec, rng.uniform(0, 1.3 * radius, n), rng.uniform(0, 2 * np.pi, n))
    # rejection sampling: candidate pairs whose two ends fall in different pixels
    m = 2_000_000
    cra, cdec = rng.uniform(150.0, 152.0, m), rng.uniform(1.0, 3.0, m)
    cpra, cpdec = _offset(
        cra, cdec, rng.uniform(0.05, 0.95 * radius, m), rng.uniform(0, 2 * np.pi, m)
    )
    across = np.flatnonzero(
        hp.radec2pix(border_order, cra, cdec) != hp.radec2pix(border_order, cpra, cpdec)
    )[:n_border]
    ra, dec = np.concatenate([ra, cra[across]]), np.concatenate([dec, cdec[across]])
    pra, pdec = np.concatenate([pra, cpra[across]]), np.concatenate([pdec, cpdec[across]])
    total = len(ra)
    ref = pd.DataFrame(
        {
            "id": [f"s{i:05d}" for i in range(total)],
            "ra": ra,
            "dec": dec,
            "z": rng.uniform(0, 3, total),
            "z_flag_homogenized": pd.array(rng.integers(0, 5, total), dtype="Int8"),
        }
    )
    field = 2 * n
    phot = pd.DataFrame(
        {
            "phot_id": np.arange(total + field, dtype=np.int64),
            "phot_ra": np.concatenate([pra, rng.uniform(150.0, 152.0, field)]),
            "phot_dec": np.concatenate([pdec, rng.uniform(1.0, 3.0, field)]),
        }
    )
    return ref, phot


@pytest.fixture(scope="module")
def border_catalogs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("border")
    ref, phot = planted()
    left = to_hats(ref, "ra", "dec", tmp / "ref", rows=600)
    right = to_hats(phot, "phot_ra", "phot_dec", tmp / "phot", tmp / "phot_margin", rows=1500)
    return tmp, ref, phot, left, right


def test_crossmatch_equals_brute_force_across_tile_borders(border_catalogs):
    tmp, ref, phot, left, right = border_catalogs
    import hats.pixel_math.healpix_shim as hp

    got = crossmatch(tmp / "ref", tmp / "phot", tmp / "phot_margin", 1.0, 1)
    want = reference_matches(ref, phot, 1.0)
    assert len(want) > 4500
    pd.testing.assert_frame_equal(
        got[["id", "phot_id"]].reset_index(drop=True).astype({"id": str, "phot_id": "int64"}),
        want[["id", "phot_id"]].astype({"id": str, "phot_id": "int64"}),
    )
    np.testing.assert_allclose(
        got["sep_arcsec"].to_numpy(), want["sep_arcsec"].to_numpy(), atol=1e-6
    )
    # the test means something: for hundreds of matches the photometric object lies outside the
    # reference tile of its spectroscopic object (only the margin cache can find those)
    pos = want.merge(ref, on="id").merge(phot, on="phot_id")
    outside = np.zeros(len(pos), dtype=bool)
    for pixel in left.get_healpix_pixels():
        mine = hp.radec2pix(pixel.order, pos["ra"].to_numpy(), pos["dec"].to_numpy()) == pixel.pixel
        theirs = hp.radec2pix(pixel.order, pos["phot_ra"].to_numpy(), pos["phot_dec"].to_numpy())
        outside |= mine & (theirs != pixel.pixel)
    assert outside.sum() > 300


def test_n_neighbors_counts_candidates_and_keeps_the_nearest(border_catalogs):
    tmp, ref, phot, *_ = border_catalogs
    got = crossmatch(tmp / "ref", tmp / "phot", tmp / "phot_margin", 1.0, 4)
    want = reference_matches(ref, phot, 1.0)
    assert got["id"].astype(str).tolist() == want["id"].tolist()
    assert got["phot_id"].tolist() == want["phot_id"].tolist()
    assert got["n_candidates"].between(1, 4).all()


def planted_ties(n=300, seed=11):
    """Spectroscopic points, each with a group of 2-6 photometric objects at one identical
    position (exactly equal separations), larger ids stored first; every third point also has a
    single nearer object, which must win over the tie group."""
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(30.0, 34.0, n), rng.uniform(-5.0, -1.0, n)
    tra, tdec = _offset(ra, dec, rng.uniform(0.2, 0.8, n), rng.uniform(0, 2 * np.pi, n))
    sizes = rng.integers(2, 7, n)
    rows, want = [], {}
    next_id = 10 * n
    for i in range(n):
        ids = sorted(range(next_id, next_id + sizes[i]), reverse=True)  # largest id first
        next_id += sizes[i]
        rows += [(pid, tra[i], tdec[i]) for pid in ids]
        want[f"t{i:04d}"] = min(ids)
        if i % 3 == 0:  # a nearer single object
            nra, ndec = _offset(ra[i], dec[i], 0.1, 1.0)
            rows.append((i, nra, ndec))
            want[f"t{i:04d}"] = i
    ref = pd.DataFrame(
        {
            "id": [f"t{i:04d}" for i in range(n)],
            "ra": ra,
            "dec": dec,
            "z": rng.uniform(0, 2, n),
            "z_flag_homogenized": pd.array(np.full(n, 4), dtype="Int8"),
        }
    )
    phot = pd.DataFrame(rows, columns=["phot_id", "phot_ra", "phot_dec"])
    return ref, phot.astype({"phot_id": "int64"}), want


def test_ranked_neighbours_complete_the_tie_set_beyond_k():
    from pzforge.sky import unit_vectors
    from pzforge.training_set.nearest import ranked_neighbours

    left = unit_vectors(np.array([10.0]), np.array([0.0]))
    ra, dec = _offset(10.0, 0.0, 0.5, 0.3)
    right = unit_vectors(np.full(9, ra), np.full(9, dec))  # nine objects at one position
    ids = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1])
    for k in (1, 2, 4):
        li, ri, sep = ranked_neighbours(left, right, ids, k, 1.0)
        assert ids[ri].tolist() == list(range(1, k + 1))
        assert len(set(sep)) == 1 and li.tolist() == [0] * k


@pytest.mark.parametrize("n_neighbors", [1, 2, 3])
def test_equal_separations_go_to_the_smallest_phot_id(tmp_path_factory, n_neighbors):
    """The documented tie rule for every n_neighbors (lsdb alone gave the larger id at k=1)."""
    tmp = tmp_path_factory.getbasetemp() / "ties"
    ref, phot, want = planted_ties()
    if not (tmp / "phot").exists():
        to_hats(ref, "ra", "dec", tmp / "ref", rows=100)
        to_hats(phot, "phot_ra", "phot_dec", tmp / "phot", tmp / "phot_margin", rows=200)
    got = crossmatch(tmp / "ref", tmp / "phot", tmp / "phot_margin", 1.0, n_neighbors)
    assert dict(zip(got["id"].astype(str), got["phot_id"], strict=True)) == want
    brute = reference_matches(ref, phot, 1.0)
    assert dict(zip(brute["id"], brute["phot_id"], strict=True)) == want
    assert got["n_candidates"].max() == n_neighbors


def test_hats_inputs_on_both_sides(tmp_path, border_catalogs):
    """A HATS reference (as a combined product's main file is) and HATS photometry are read."""
    from pzforge.training_set.inputs import ingest_reference

    tmp, ref, phot, *_ = border_catalogs
    ref_cfg = base_config(
        reference={
            "path": str(tmp / "ref"),
            "columns": {"z_err": None, "type": None},
            "selection": {"min_z_flag": None, "types": None},  # every planted row
        }
    )["reference"]
    location = {"path": str(tmp / "ref"), "format": "hats", "product_id": None}
    stats = ingest_reference(ref_cfg, location, tmp_path / "ref_parts")
    got = pd.read_parquet(tmp_path / "ref_parts")
    assert stats["rows_out"] == len(ref) == len(got)
    assert got["id"].tolist() == sorted(ref["id"])
    phot_cfg = base_config(
        photometry={
            "path": str(tmp / "phot"),
            "columns": {"id": "phot_id", "ra": "phot_ra", "dec": "phot_dec"},
            "bands": [],
        }
    )["photometry"]
    stats = ingest_photometry(phot_cfg, tmp_path / "phot_parts", {"id", "ra", "dec"})
    got = pd.read_parquet(tmp_path / "phot_parts")
    assert stats["rows_out"] == len(phot)
    assert sorted(got["phot_id"]) == sorted(phot["phot_id"])


def test_reference_flags_must_be_on_the_homogenized_scale(tmp_path):
    from pzforge.training_set.inputs import ingest_reference

    path = tmp_path / "ref.parquet"
    pd.DataFrame(
        {
            "id": ["a", "b"],
            "ra": [1.0, 2.0],
            "dec": [0.0, 0.0],
            "z": [0.1, 0.2],
            "z_err": [0.01, 0.01],
            "z_flag_homogenized": [4, 23],
        }
    ).to_parquet(path)
    ref = base_config(
        reference={"path": str(path), "columns": {"type": None}, "selection": {"types": None}}
    )["reference"]
    location = {"path": str(path), "format": "parquet", "product_id": None}
    with pytest.raises(InputDataError, match=r"not on the homogenized 0-4 .* \[23\.0\]"):
        ingest_reference(ref, location, tmp_path / "out")


def _reference_file(tmp_path: Path) -> Path:
    """Two surveys; every cut planted once or more (see the counts in the test)."""
    path = tmp_path / "ref.parquet"
    z = [0.5, 9.9999, float(np.float32(9.9999)), -99.0, 0.4, 0.3, 0.2, 0.1, 0.6, 0.7, 0.8, 1.2]
    pd.DataFrame(
        {
            "id": [f"r{i:02d}" for i in range(12)],
            "ra": [10.0] * 11 + [400.0],
            "dec": [0.0] * 12,
            "z": z,
            "z_err": [0.01] * 12,
            "z_flag_homogenized": pd.array([4, 4, 4, 3, 6, 2, None, 3, 3, 4, 3, 4], dtype="Int8"),
            "type_homogenized": ["s", "s", "g", "s", "s", "s", "s", "p", None, "g", "s", "s"],
            "survey": ["VVDS"] * 4 + ["JADES"] * 8,
        }
    ).to_parquet(path)
    return path


def test_reference_selection_and_sentinels_counted_per_survey(tmp_path):
    """Default cuts (flag >= 3, type s or g, no stars, survey sentinels): the Photo-z Server's."""
    from pzforge.training_set.inputs import ingest_reference

    path = _reference_file(tmp_path)
    ref = base_config(reference={"path": str(path)})["reference"]
    location = {"path": str(path), "format": "parquet", "product_id": None}
    stats = ingest_reference(ref, location, tmp_path / "out")
    kept = pd.read_parquet(tmp_path / "out")
    assert kept["id"].tolist() == ["r00", "r09", "r10"]
    assert set(kept["type_homogenized"]) <= {"s", "g"} and (kept["z_flag_homogenized"] >= 3).all()
    assert stats["dropped"] == {
        "ra/dec not finite or out of range": 1,
        "z is a sentinel value": 3,  # 9.9999 as float64 and as float32, and -99
        "star (z_flag_homogenized 6)": 1,
        "z_flag_homogenized below 3 or unknown": 2,
        "type not selected": 2,  # a photometric redshift and an unknown type
    }
    assert stats["by_survey"]["VVDS"] == {"rows_in": 4, "z is a sentinel value": 3, "rows_out": 1}
    assert stats["by_survey"]["JADES"]["rows_in"] == 8
    assert stats["by_survey"]["JADES"]["rows_out"] == 2
    assert stats["rows_out"] == 3 and stats["selection"]["min_z_flag"] == 3

    loose = base_config(
        reference={
            "path": str(path),
            "selection": {"min_z_flag": None, "types": None, "stars": True},
            "z_sentinels": [],
        }
    )["reference"]
    stats = ingest_reference(loose, location, tmp_path / "loose")
    assert stats["rows_out"] == 11 and stats["dropped"] == {"ra/dec not finite or out of range": 1}


def test_reference_selection_needs_its_columns(tmp_path):
    with pytest.raises(ConfigError, match=r"columns.z_flag is null .*min_z_flag: null"):
        base_config(reference={"path": __file__, "columns": {"z_flag": None}})
    with pytest.raises(ConfigError, match=r"columns.type is null .*selection.types: null"):
        base_config(reference={"path": __file__, "columns": {"type": None}})
    from pzforge.training_set.inputs import ingest_reference

    path = tmp_path / "plain.parquet"
    pd.DataFrame({"id": ["a"], "ra": [1.0], "dec": [1.0], "z": [0.1], "z_err": [0.1]}).to_parquet(
        path
    )
    ref = base_config(reference={"path": str(path)})["reference"]
    location = {"path": str(path), "format": "parquet", "product_id": None}
    with pytest.raises(InputDataError, match=r"'type_homogenized' \(for type\).*types: null"):
        ingest_reference(ref, location, tmp_path / "out")


def test_reference_sentinels_include_combines_and_vvds():
    """The default list is combine_redshift's validation.z_sentinels plus VVDS' 9.9999."""
    combine = {"name": "x", "path": "x", "columns": {"ra": "a", "dec": "b", "z": "c"}}
    theirs = validate_config({"catalogs": [combine | {"survey": {"value": "x"}}]})["validation"]
    ours = base_config()["reference"]["z_sentinels"]
    assert set(theirs["z_sentinels"]) | {9.9999} <= set(ours)


def build(tmp: Path, ref_dir: Path, phot: Path, margin: Path, **cfg) -> tuple[dict, dict]:
    config = base_config(**cfg)
    keys = ["train", "test"] if config["split"]["output"] == "products" else ["training_set"]
    outputs = {k: (tmp / f"{k}_hats", tmp / f"{k}.parquet") for k in keys}
    stats, _ = build_training_set(
        ref_hats=ref_dir, phot_hats=phot, phot_margin=margin, config=config, outputs=outputs
    )
    return stats, outputs


def test_no_overlap_is_a_clear_error_unless_empty_allowed(tmp_path, border_catalogs):
    tmp, ref, *_ = border_catalogs
    far = ref.assign(ra=ref["ra"] + 100.0)
    to_hats(far, "ra", "dec", tmp_path / "far")
    no_bands = {"path": __file__, "bands": []}
    with pytest.raises(InputDataError, match="no spectroscopic object has a photometric"):
        build(tmp_path, tmp_path / "far", tmp / "phot", tmp / "phot_margin", photometry=no_bands)
    stats, outputs = build(
        tmp_path,
        tmp_path / "far",
        tmp / "phot",
        tmp / "phot_margin",
        photometry=no_bands,
        allow_empty=True,
    )
    assert stats["rows"] == 0
    empty = pd.read_parquet(outputs["training_set"][1])
    assert len(empty) == 0 and {"id", "z", "phot_id", "sep_arcsec"} <= set(empty.columns)
    # ... and it can be registered: the Parquet file is its main file (no HATS tile exists)
    import registry
    from pzforge.config import RegistrySettings
    from pzforge.products.manifest import write_manifest
    from pzforge.products.registration import register_manifests
    from pzforge.training_set.manifest import training_set_manifest

    hats_dir, parquet = outputs["training_set"]
    cfg = base_config(photometry=no_bands)
    manifest = training_set_manifest(
        key="training_set",
        hats_dir=hats_dir,
        parquet=parquet,
        aux_files=[],
        settings=RegistrySettings.from_config(
            {
                "register": True,
                "url": None,
                "product_name": "empty ts",
                "description": "",
                "release": None,
            }
        ),
        run_name="empty",
        derived_from=[],
        photometry=cfg["photometry"],
        magnitudes=cfg["magnitudes"],
    )
    assert manifest.main_file == str(parquet)
    write_manifest(manifest, tmp_path / "m.json")
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    (receipt,) = register_manifests(registry.open(url), [tmp_path / "m.json"], owner="tests")
    assert receipt["product_type"] == "Training Set"


def test_split_as_two_products(tmp_path, border_catalogs):
    tmp, ref, phot, *_ = border_catalogs
    stats, outputs = build(
        tmp_path,
        tmp / "ref",
        tmp / "phot",
        tmp / "phot_margin",
        photometry={"path": __file__, "bands": []},
        split={"method": "random", "training_fraction": 0.75, "output": "products"},
    )
    train = pd.read_parquet(outputs["train"][1])
    test = pd.read_parquet(outputs["test"][1])
    n = len(train) + len(test)
    assert n == stats["rows"] and abs(len(train) - 0.75 * n) <= 0.5
    assert not set(train["id"]) & set(test["id"])
    assert train["phot_id"].is_unique  # many-to-one applied before the split
    import lsdb

    assert len(lsdb.open_catalog(str(outputs["train"][0])).compute()) == len(train)


# --- real photometric layouts ------------------------------------------------------------------------

DES_PHOT = {
    "columns": {"id": "coadd_object_id", "ra": "ra", "dec": "dec"},
    "bands": LSST_BANDS,
    "quantity": "magnitude",
    "value_column": "mag_{band}",
    "error_column": "magerr_{band}",
    "missing_values": [-99.0],
    "nondetection_values": [99.0],
}


def test_des_parquet_and_hdf5_give_the_same_training_set(shared_data, tmp_path):
    """The same DES DR2 objects as Parquet and as HDF5: identical training sets, byte for byte."""
    des = pd.read_parquet(shared_data / "photometry" / "tiny_object_catalog_for_tests_des_dr2.pq")
    pick = des.sample(200, random_state=1).reset_index(drop=True)
    rng = np.random.default_rng(2)
    ref = pd.DataFrame(
        {
            "id": [f"t{i:03d}" for i in range(len(pick))],
            "ra": pick["ra"] + rng.uniform(-0.3, 0.3, len(pick)) / 3600,
            "dec": pick["dec"] + rng.uniform(-0.3, 0.3, len(pick)) / 3600,
            "z": rng.uniform(0, 1.5, len(pick)),
            "z_flag_homogenized": pd.array([4] * len(pick), dtype="Int8"),
        }
    )
    to_hats(ref, "ra", "dec", tmp_path / "ref")
    results = {}
    for suffix in ("pq", "hdf5"):
        path = shared_data / "photometry" / f"tiny_object_catalog_for_tests_des_dr2.{suffix}"
        phot_cfg = base_config(photometry={"path": str(path), **DES_PHOT})["photometry"]
        parts = tmp_path / f"parts_{suffix}"
        stats = ingest_photometry(phot_cfg, parts, {"id", "ra", "dec", "z"})
        assert stats["rows_out"] == len(des)
        df = pd.read_parquet(parts)
        to_hats(
            df, "phot_ra", "phot_dec", tmp_path / f"phot_{suffix}", tmp_path / f"margin_{suffix}"
        )
        out = tmp_path / suffix
        out.mkdir()
        s, outputs = build(
            out,
            tmp_path / "ref",
            tmp_path / f"phot_{suffix}",
            tmp_path / f"margin_{suffix}",
            photometry={"path": str(path), **DES_PHOT},
            magnitudes={"non_detection": "sentinel"},
        )
        results[suffix] = (s, Path(outputs["training_set"][1]))
    assert results["pq"][1].read_bytes() == results["hdf5"][1].read_bytes()
    table = pd.read_parquet(results["pq"][1])
    assert len(table) == 200 and table["sep_arcsec"].max() < 0.5
    assert (table["mag_u"] == 99.0).all()  # DES has no u: every value is "no measurement"
    assert results["pq"][0]["photometry"]["bands"]["u"]["no_measurement"] == 200
    assert "mag_g" in table and "coadd_object_id" not in table  # id is phot_id


def test_rubin_object_table_fluxes(shared_data, tmp_path):
    path = shared_data / "photometry" / "rubin_dm_dc2_example.pq"
    phot_cfg = base_config(photometry={"path": str(path), "flux_type": "gaap1p0"})["photometry"]
    stats = ingest_photometry(phot_cfg, tmp_path / "parts", {"id", "ra", "dec"})
    df = pd.read_parquet(tmp_path / "parts")
    assert stats["rows_out"] == 100
    assert {"phot_id", "phot_ra", "phot_dec", "r_gaap1p0Flux", "r_gaap1p0FluxErr"} <= set(df)
    mags, pstats = photometry.compute_magnitudes(df, phot_cfg, _mags())
    ok = df["r_gaap1p0Flux"] > 0
    np.testing.assert_allclose(
        mags.loc[ok, "mag_r"], -2.5 * np.log10(df.loc[ok, "r_gaap1p0Flux"]) + 31.4
    )
    assert sum(pstats.bands["r"].values()) == 100


@pytest.mark.parametrize("fmt", ["csv", "fits"])
def test_photometry_formats_give_the_same_parts(shared_data, tmp_path, fmt):
    from astropy.table import Table

    src = pd.read_parquet(shared_data / "photometry" / "rubin_dm_dc2_example.pq")
    path = tmp_path / f"rubin.{fmt}"
    if fmt == "csv":
        src.to_csv(path, index=False)
    else:
        Table.from_pandas(src).write(path)
    results = {}
    for name, p in (
        ("parquet", shared_data / "photometry" / "rubin_dm_dc2_example.pq"),
        (fmt, path),
    ):
        cfg = base_config(photometry={"path": str(p), "flux_type": "gaap1p0"})["photometry"]
        ingest_photometry(cfg, tmp_path / name, {"id", "ra", "dec"})
        results[name] = pd.read_parquet(tmp_path / name)
    pd.testing.assert_frame_equal(results["parquet"], results[fmt], check_dtype=False)


# --- end to end: real ASTRODEEP photometry x real spec-z, through the CLI ----------------------------

GOODSS_SPECZ = {  # the GOODS-South spec-z samples, with the column maps of the combine tests
    stem: SPECZ[stem]
    for stem in ("3dhst_v4.1.5", "jades_dr3", "vvds_final_release", "candels_clean")
}
ASTRODEEP_BANDS = ["B435_HLF", "V606_HLF", "I775_HLF", "Z850_HLF", "f125w", "f160w"]


def register_specz_reference(shared_data: Path, workdir: Path, url: str) -> int:
    """The GOODS-S spec-z samples, ingested with their column maps, as a registered product."""
    from pzforge.combine.homogenize import RuleBook
    from pzforge.combine.ingest import ingest_catalog
    from pzforge.combine.manifest import combined_columns
    from registry import ColumnSpec, Registry

    book = RuleBook.load(SHIPPED_SURVEYS_FILE)
    combine = {"name": "x", "path": "x", "columns": {"ra": "a", "dec": "b", "z": "c"}}
    validation = validate_config({"catalogs": [combine | {"survey": {"value": "x"}}]})["validation"]
    frames = []
    for stem, (columns, survey) in GOODSS_SPECZ.items():
        spec = {
            "name": stem.split("_")[0].replace(".", ""),
            "path": str(shared_data / "specz" / f"{stem}_random_sample.parquet"),
            "columns": columns,
            "survey": {"column": survey},
            "on_duplicate_id": "suffix",
        }
        df, _ = ingest_catalog(spec, validation, {"on_unknown_flag": "null"}, book)
        frames.append(df)
    path = workdir / "goodss_specz.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)
    reg = Registry.from_url(url, user="tests")
    ingested = set(pd.read_parquet(path).columns)  # ingested rows: no resolution columns
    columns = [ColumnSpec(**vars(c)) for c in combined_columns({}) if c.name in ingested]
    product = reg.register_product(
        name="goodss specz",
        product_type="Reference Redshift Catalog",
        main_file=path,
        columns=columns,
        owner="tests",
    )
    return product.id


@pytest.fixture(scope="module")
def goodss(shared_data, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("goodss")
    url = f"sqlite:///{workdir / 'registry.sqlite'}"
    ref_id = register_specz_reference(shared_data, workdir, url)
    from registry import Registry

    phot_path = shared_data / "photometry" / "astrodeep-gs43_random_sample.parquet"
    phot_id = (
        Registry.from_url(url, user="tests")
        .register_product(
            name="astrodeep gs43", product_type="Other", main_file=phot_path, owner="tests"
        )
        .id
    )
    config = {
        "pipeline": "training_set",
        "run_name": "goodss",
        "reference": {"product": ref_id},
        "photometry": {
            "product": f"{phot_id}_astrodeep_gs43",  # by internal name
            "columns": {"id": "ID", "ra": "RA", "dec": "DEC"},
            "bands": ASTRODEEP_BANDS,
            "value_column": "f_{band}",
            "error_column": "e_{band}",
            "flux_unit": "uJy",
            "missing_values": [-99, 0],
            "keep_columns": ["z_best", "zspec_survey"],
        },
        "crossmatch": {"n_neighbors": 3},
        "magnitudes": {"non_detection": "upper_limit"},
        "split": {"method": "random", "training_fraction": 0.8, "seed": 3},
        "output": {"formats": ["parquet", "csv", "fits", "hdf5"], "rail": {"enabled": True}},
        "partition": {"pixel_threshold": 1000, "highest_healpix_order": 10},  # many small tiles
    }
    cfg = workdir / "training.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = {"PZFORGE_REGISTRY_URL": url}
    proc = pzforge("run", "training_set", "-c", cfg, cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir, proc, (ref_id, phot_id), url, cfg


pytestmark_slow = pytest.mark.slow


@pytestmark_slow
def test_real_training_set_equals_brute_force(goodss):
    workdir, proc, *_ = goodss
    results = workdir / "results" / "goodss"
    ref = pd.read_parquet(results / "ingest" / "reference")
    phot = pd.read_parquet(results / "ingest" / "photometry")
    want, _ = resolve_many_to_one(
        reference_matches(ref, phot, 1.0).merge(ref[["id", "z_flag_homogenized"]], on="id")
    )
    out = pd.read_parquet(results / "training" / "training_set.parquet")
    assert 2 <= len(out) <= 20  # spectroscopic-quality rows only (default selection)
    assert out["id"].tolist() == want["id"].tolist()
    assert out["phot_id"].tolist() == want["phot_id"].tolist()
    assert out["phot_id"].is_unique and out["sep_arcsec"].max() <= 1.0
    assert set(out["subset"]) == {"train", "test"}
    assert abs((out["subset"] == "train").sum() - 0.8 * len(out)) <= 0.5
    ok = out["f_f160w"] > 0
    np.testing.assert_allclose(
        out.loc[ok, "mag_f160w"], -2.5 * np.log10(out.loc[ok, "f_f160w"]) + 23.9
    )
    for fmt in ("csv", "fits", "hdf5"):
        assert (results / "training" / f"training_set.{fmt}").is_file()
    hdf5 = read_table(results / "training" / "training_set.hdf5", "hdf5", hdf5_key="training_set")
    assert hdf5["id"].tolist() == out["id"].tolist()
    # every reference row, whatever its quality: the crossmatch on about 50 real pairs
    every = pd.read_parquet(workdir / "goodss_specz.parquet", columns=["id", "ra", "dec"])
    every = every.assign(z=0.5, z_flag_homogenized=pd.array([4] * len(every), dtype="Int8"))
    to_hats(every, "ra", "dec", workdir / "every_ref", rows=2000)
    hats = results / "hats" / "photometry"
    got = crossmatch(workdir / "every_ref", hats / "catalog", hats / "margin", 1.0, 3)
    brute = reference_matches(every, phot, 1.0)
    assert 30 <= len(got) <= 120  # about 50 genuine matches in these samples
    assert got["id"].astype(str).tolist() == brute["id"].tolist()
    assert got["phot_id"].tolist() == brute["phot_id"].tolist()


@pytestmark_slow
def test_real_training_set_has_only_spectroscopic_quality_rows(goodss):
    """The issue's case: by default no photometric redshift, no flag < 3, no VVDS 9.9999."""
    workdir, proc, *_ = goodss
    results = workdir / "results" / "goodss"
    out = pd.read_parquet(results / "training" / "training_set.parquet")
    assert len(out) > 0
    assert set(out["type_homogenized"]) <= {"s", "g"}
    assert (out["z_flag_homogenized"] >= 3).all() and (out["z_flag_homogenized"] != 6).all()
    assert out["z"].max() < 9.9
    summary = json.loads((results / "summary.json").read_text())
    dropped = summary["reference"]["dropped"]
    # VVDS's 9.9999 placeholders are caught upstream now (the survey rule's no_redshift, at
    # combine ingest); a reference from elsewhere is caught here (the unit tests plant them)
    assert dropped.get("z is a sentinel value", 0) == 0 and dropped["type not selected"] > 0
    vvds = summary["surveys"]["VVDS"]
    assert vvds["rows_in"] >= vvds["rows_out"]
    assert sum(s["training_rows"] for s in summary["surveys"].values()) == len(out)
    valid = pd.read_parquet(results / "ingest" / "reference", columns=["z"])["z"]
    assert not np.isclose(valid, 9.9999, atol=1e-4).any()  # no placeholder left to plot
    z = summary["redshift"]
    edges = np.asarray(z["histogram_edges"])
    spike_bin = np.searchsorted(edges, 9.9999) - 1
    counts = np.asarray(z["matched_counts"]) + np.asarray(z["unmatched_counts"])
    assert counts[spike_bin] == ((valid >= edges[spike_bin]) & (valid < edges[spike_bin + 1])).sum()
    assert counts[spike_bin] < 5  # (real z ~ 10 JADES galaxies only), not the 124 placeholders
    assert re.search(r"^per survey\n", proc.stdout, re.M)  # the table's title
    cov = summary["coverage"]
    assert (
        cov["photometric_objects"] > 500
        and 0 < cov["photometric_fraction_in_cells_without_specz"] < 1
    )
    assert "in cells with no spec-z" in proc.stdout


@pytestmark_slow
def test_real_rail_output_reads_like_rail(goodss):
    """The RAIL file of a real run: group photometry/, RAIL's names, no NaN, and the settings."""
    from tests.training_set.test_rail import knn_inform_inputs, read_like_tables_io

    workdir, *_ = goodss
    rail = workdir / "results" / "goodss" / "rail"
    report = json.loads((rail / "training_set_rail.hdf5.json").read_text())
    cfg = report["stage_config"]
    assert cfg["bands"] == [f"mag_{b}" for b in ASTRODEEP_BANDS]  # not LSST bands: no _lsst
    data = read_like_tables_io(rail / "training_set_rail.hdf5")
    assert list(data) == ["photometry"] and "redshift" in data["photometry"]
    mags, z = knn_inform_inputs(data, cfg)
    assert np.isfinite(mags.to_numpy()).all() and len(z) == report["rows"] > 0


@pytestmark_slow
def test_real_summary_page_and_plots(goodss):
    workdir, proc, *_ = goodss
    results = workdir / "results" / "goodss"
    summary = json.loads((results / "summary.json").read_text())
    out = pd.read_parquet(results / "training" / "training_set.parquet")
    assert summary["rows"] == len(out)
    assert summary["matched_fraction"] == pytest.approx(len(out) / summary["reference_rows"])
    assert (
        summary["redshift"]["matched"]["n"] + summary["redshift"]["unmatched"]["n"]
        == summary["reference_rows"]
    )
    assert sum(summary["separation_arcsec"]["histogram"]["counts"]) == len(out)
    assert set(summary["magnitudes"]) == set(ASTRODEEP_BANDS)
    for name in ("separation.png", "redshift.png", "colour_magnitude.png", "coverage.png"):
        png = results / "report" / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plots/{name}" in (results / "report" / "summary.md").read_text()
    assert re.search(r"^training set +\d+ rows$", proc.stdout, re.M), proc.stdout
    assert "registered product" in proc.stdout


@pytestmark_slow
def test_real_product_registered_with_lineage_and_columns(goodss):
    workdir, proc, (ref_id, phot_id), url, _ = goodss
    from registry import Registry

    reg = Registry.from_url(url, user="tests")
    products = [p for p in reg.list_products() if p.product_type == "Training Set"]
    assert len(products) == 1
    detail = reg.get_product(products[0].id)
    roles = {c.name: (c.role, c.ucd, c.unit) for c in detail.columns}
    assert roles["z"][0] == "z" and roles["ra"] == ("ra", "pos.eq.ra;meta.main", "deg")
    assert roles["mag_f160w"] == ("magnitude", "phot.mag", "mag")
    assert roles["magerr_f160w"][0] == "error"
    assert roles["f_f160w"] == ("flux", "phot.flux.density", "uJy")
    assert roles["sep_arcsec"][1] == "pos.angDistance"
    assert sorted(u["id"] for u in reg.upstream(detail.id)) == sorted([ref_id, phot_id])
    main = next(f for f in detail.files if f.role == "main")
    assert main.name == "training_set_hats" and main.source_path.endswith("training_set_hats")


@pytestmark_slow
def test_missing_band_fails_before_any_job(goodss):
    workdir, _, _, url, cfg = goodss
    proc = pzforge(
        "run",
        "training_set",
        "-c",
        cfg,
        "--set",
        "photometry.bands=[f160w, Q999]",
        cwd=workdir,
        env={"PZFORGE_REGISTRY_URL": url},
    )
    assert proc.returncode == 1
    assert "band 'Q999'" in proc.stderr and "f_Q999" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = pzforge(
        "run",
        "training_set",
        "-c",
        cfg,
        "--set",
        "reference.product=999",
        cwd=workdir,
        env={"PZFORGE_REGISTRY_URL": url},
    )
    assert proc.returncode == 1 and "no product 999" in proc.stderr, proc.stderr


@pytestmark_slow
def test_hats_photometry_used_as_is_gives_the_same_training_set(goodss, shared_data):
    """photometry.margin_cache: a HATS photometric catalog crossmatched without re-partitioning."""
    workdir, _, _, url, cfg = goodss
    raw = pd.read_parquet(shared_data / "photometry" / "astrodeep-gs43_random_sample.parquet")
    to_hats(raw, "RA", "DEC", workdir / "ad_hats", workdir / "ad_margin", rows=2000)
    env = {"PZFORGE_REGISTRY_URL": url}
    direct = [
        "--set", "run_name=goodss_direct",
        "--set", "photometry.product=null",
        "--set", f"photometry.path={workdir / 'ad_hats'}",
        "--set", f"photometry.margin_cache={workdir / 'ad_margin'}",
    ]  # fmt: skip
    narrow = pzforge(
        "run", "training_set", "-c", cfg, *direct, "--set", "crossmatch.radius_arcsec=6",
        "--set", "partition.margin_threshold_arcsec=6", cwd=workdir, env=env,
    )  # fmt: skip
    assert narrow.returncode == 1 and "margin threshold 5.0 arcsec is smaller" in narrow.stderr
    proc = pzforge("run", "training_set", "-c", cfg, *direct, cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = workdir / "results"
    assert not (results / "goodss_direct" / "hats" / "photometry").exists()  # not re-partitioned
    pd.testing.assert_frame_equal(
        pd.read_parquet(results / "goodss_direct" / "training" / "training_set.parquet"),
        pd.read_parquet(results / "goodss" / "training" / "training_set.parquet"),
    )
