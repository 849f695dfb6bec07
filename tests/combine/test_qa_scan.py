"""The QA report's partition-by-partition scan equals the same figures computed over the whole
table at once (the brute-force reference: every valid row in memory, in the partitions' order),
on a real hats-import catalog of many partitions; and the summary's streamed counts equal
counting the whole table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from pzforge.combine import qa_scan, summary
from pzforge.combine.columns import ingest_schema
from pzforge.errors import PipelineError
from pzforge.strings import as_arrow_strings
from pzforge.tiles import partition
from pzforge.tiles.partition import HEALPIX, partition_files

SURVEYS = ["2dFGRS", "6dFGS", "VVDS", "zCOSMOS"]


def _rows(rng: np.random.Generator) -> pd.DataFrame:
    """All-sky rows, two dense fields (one across RA 0/360), NaN and negative redshifts."""
    n_sky, n_field = 6000, 3000
    ra = np.concatenate(
        [
            rng.uniform(0, 360, n_sky),
            rng.uniform(150.1, 150.6, n_field),
            np.mod(rng.uniform(-0.3, 0.3, n_field), 360.0),
        ]
    )
    dec = np.concatenate(
        [
            np.degrees(np.arcsin(rng.uniform(-1, 1, n_sky))),
            rng.uniform(2.0, 2.5, n_field),
            rng.uniform(-10.4, -10.0, n_field),
        ]
    )
    n = len(ra)
    z = np.round(rng.gamma(2.0, 0.3, n), 4)
    z[rng.random(n) < 0.05] = np.nan
    z[:20] = -0.001  # stars' blueshifts
    df = pd.DataFrame(
        {"id": [f"c:{i:06d}" for i in range(n)], "ra": ra, "dec": dec, "z": z, "z_err": 0.01}
    )
    for col in ("source_id", "catalog", "z_flag", "type", "type_homogenized"):
        df[col] = "x"
    df["survey"] = np.array(SURVEYS, dtype=object)[rng.integers(0, len(SURVEYS), n)]
    df["z_flag_homogenized"] = pd.array(rng.choice([1, 3, 4, 6], n), dtype="Int8")
    return df[list(ingest_schema({}).names)]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    rng = np.random.default_rng(7)
    df = _rows(rng)
    root = tmp_path_factory.mktemp("qa")
    path = root / "in.parquet"
    pq.write_table(pa.Table.from_pandas(df, schema=ingest_schema({}), preserve_index=False), path)
    settings = {"pixel_threshold": 1500, "highest_healpix_order": 8, "margin_threshold_arcsec": 2}
    partition.partition_catalog([path], root / "cat", root / "margin", settings, n_workers=1)
    files = partition_files(root / "cat")
    assert len(files) > 8  # many partitions: the scan must stitch them
    whole = pads.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()
    members = whole.sample(n=1200, random_state=3)[["id", HEALPIX]]
    index = qa_scan.MemberIndex(as_arrow_strings(members["id"]), members[HEALPIX].to_numpy())
    whole["member"] = whole["id"].isin(set(members["id"]))
    return root / "cat", whole, index


@pytest.fixture(scope="module")
def scanned(catalog):
    cat, _whole, index = catalog
    return qa_scan.scan_rows(cat, index, limit=700)


def test_counts_and_samples_equal_the_whole_table(catalog, scanned):
    _cat, whole, _index = catalog
    assert scanned.rows == len(whole)
    assert scanned.members == int(whole["member"].sum()) == 1200
    assert scanned.totals.to_dict() == whole["survey"].value_counts().sort_index().to_dict()
    pick = whole.iloc[qa_scan.subsample(len(whole), 700)]
    assert len(pick) == 700 < len(whole)
    pd.testing.assert_frame_equal(
        scanned.sample[["survey", "ra", "dec"]],
        pick[["survey", "ra", "dec"]].reset_index(drop=True),
        check_dtype=False,
    )
    dup = whole.loc[whole["member"]]
    dup = dup.iloc[qa_scan.subsample(len(dup), 700)]
    np.testing.assert_array_equal(scanned.member_sample["ra"], dup["ra"])
    np.testing.assert_array_equal(scanned.member_sample["dec"], dup["dec"])


def _dense_fields_reference(rows: pd.DataFrame, n: int = 6, cell_deg: float = 1.0):
    """The QA report's former whole-table algorithm."""
    ra, dec = rows["ra"].to_numpy(float), rows["dec"].to_numpy(float)
    cells = pd.DataFrame({"i": np.floor(ra / cell_deg), "j": np.floor(dec / cell_deg)})
    counts = cells.value_counts().sort_index().sort_values(ascending=False, kind="stable")
    out, chosen = [], []
    for (i, j), count in counts.items():
        if count < 20 or len(out) == n:
            break
        if any(abs(i - ci) <= 2 and abs(j - cj) <= 2 for ci, cj in chosen):
            continue
        chosen.append((i, j))
        inside = (cells["i"].to_numpy() == i) & (cells["j"].to_numpy() == j)
        lo_ra, hi_ra = np.percentile(ra[inside], [1, 99])
        lo_dec, hi_dec = np.percentile(dec[inside], [1, 99])
        pad = max(hi_ra - lo_ra, hi_dec - lo_dec, 0.02) * 0.08
        box_ra, box_dec = (lo_ra - pad, hi_ra + pad), (lo_dec - pad, hi_dec + pad)
        box = (ra >= box_ra[0]) & (ra <= box_ra[1]) & (dec >= box_dec[0]) & (dec <= box_dec[1])
        out.append((int(count), box_ra, box_dec, rows.loc[box]))
    return out


def test_dense_fields_equal_the_whole_table(catalog, scanned):
    _cat, whole, _index = catalog
    reference = _dense_fields_reference(whole)
    assert len(scanned.fields) == len(reference) >= 2
    for field, (count, box_ra, box_dec, rows) in zip(scanned.fields, reference, strict=True):
        assert (field.rows, field.ra, field.dec) == (count, box_ra, box_dec)
        np.testing.assert_array_equal(field.table["ra"], rows["ra"])
        np.testing.assert_array_equal(field.table["member"], rows["member"])
        assert field.table["survey"].tolist() == rows["survey"].tolist()


def test_redshift_histograms_equal_the_whole_table(catalog, scanned):
    _cat, whole, _index = catalog
    assert list(scanned.z) == SURVEYS
    for survey, z in scanned.z.items():
        values = whole.loc[whole["survey"] == survey, "z"].to_numpy(float)
        finite = np.sort(values[np.isfinite(values)])
        assert (z.rows, z.no_z) == (len(values), int(np.isnan(values).sum()))
        tail = finite[int(np.ceil(0.995 * len(finite))) - 1]
        assert z.hi == max(tail * 1.05, 0.01)
        assert z.zmin == finite[0] < 0
        expected, _ = np.histogram(
            np.clip(finite, None, z.hi), bins=40, range=(min(0.0, finite[0]), z.hi)
        )
        np.testing.assert_array_equal(z.counts, expected)
        assert z.counts.sum() == len(finite)


@pytest.mark.parametrize("n", [1, 2, 199, 200, 201, 1000, 123457])
def test_tail_rank_is_the_smallest_rank_with_995_permille_at_or_below(n):
    k = qa_scan.tail_rank(n)
    assert k * 1000 >= 995 * n and (k - 1) * 1000 < 995 * n


def test_order_bucket_keeps_the_order_of_values():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 3, 5000), [0.0, -0.0, 1e-300, -1e300, 7.5, 7.5]])
    keys = qa_scan.order_bucket(z)
    order = np.argsort(z, kind="stable")
    assert (np.diff(keys[order]) >= 0).all()


def test_summary_counts_equal_the_whole_table(catalog, tmp_path):
    cat, whole, _index = catalog
    counts = summary.valid_counts(cat)
    star = whole["z_flag_homogenized"].astype("float64") == 6
    expected = (
        pd.DataFrame({"rows": 1, "stars": star, "no_z": whole["z"].isna()})
        .groupby(whole["survey"])
        .sum()
    )
    pd.testing.assert_frame_equal(counts, expected.astype(np.int64), check_names=False)
    path = tmp_path / "combined.parquet"
    pq.write_table(pa.table({"survey": whole["survey"]}), path, row_group_size=1000)
    assert (
        summary.value_counts(path, "survey").to_dict() == whole["survey"].value_counts().to_dict()
    )


def test_survey_pair_counts_equal_a_lookup_by_id():
    rng = np.random.default_rng(1)
    members = pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(300)],
            "survey": pd.array(rng.choice(["b", "a", "c"], 300), dtype="string"),
        }
    )
    pairs = pd.DataFrame(
        {
            "id_a": [f"m{i}" for i in rng.integers(0, 300, 500)],
            "id_b": [f"m{i}" for i in rng.integers(0, 300, 500)],
        }
    )
    survey = dict(zip(members["id"], members["survey"], strict=True))
    a, b = pairs["id_a"].map(survey), pairs["id_b"].map(survey)
    expected = pd.DataFrame({"survey_a": np.minimum(a, b), "survey_b": np.maximum(a, b)})
    expected = expected.value_counts().rename("pairs").reset_index()
    expected = expected.sort_values(["survey_a", "survey_b"], ignore_index=True)
    got = summary.survey_pair_counts(pairs, members)
    assert got.to_dict(orient="records") == expected.to_dict(orient="records")
    with pytest.raises(PipelineError, match="in no group: \\['nobody'\\]"):
        summary.pair_member_rows(pd.DataFrame({"id_a": ["nobody"], "id_b": ["m1"]}), members["id"])
