"""The partitioned pair search must equal a global brute-force KD-tree, at tile borders too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pzforge.combine import duplicates
from pzforge.combine.columns import ingest_schema
from pzforge.tiles import partition
from pzforge.tiles.partition import partition_files

ARCSEC = 1 / 3600


def _frame(ra, dec, prefix="c"):
    n = len(ra)
    df = pd.DataFrame(
        {"id": [f"{prefix}:{i:06d}" for i in range(n)], "ra": np.mod(ra, 360.0), "dec": dec}
    )
    for col in ("source_id", "catalog", "survey", "z_flag", "type", "type_homogenized"):
        df[col] = "x"
    df["z"], df["z_err"] = 0.5, 0.01
    df["z_flag_homogenized"] = pd.array([3] * n, dtype="Int8")
    return df[list(ingest_schema({}).names)]


def _pixel(ra, dec, order):
    import astropy.units as u
    from cdshealpix.nested import lonlat_to_healpix

    return lonlat_to_healpix(ra * u.deg, dec * u.deg, order)


def _border_pairs(rng, n, order=7):
    """Pairs 0.3-0.95 arcsec apart whose members fall in different HEALPix pixels at ``order``."""
    ra = rng.uniform(9.9, 10.8, 400 * n)
    dec = rng.uniform(-0.4, 0.4, 400 * n)
    sep = rng.uniform(0.3, 0.95, len(ra)) * ARCSEC
    ang = rng.uniform(0, 2 * np.pi, len(ra))
    ra2 = ra + sep * np.cos(ang) / np.cos(np.radians(dec))
    dec2 = dec + sep * np.sin(ang)
    crossing = np.flatnonzero(_pixel(ra, dec, order) != _pixel(ra2, dec2, order))[:n]
    return (ra[crossing], dec[crossing]), (ra2[crossing], dec2[crossing])


def _scenario(rng):
    """Dense field + sparse sky + planted pairs (across borders too), chains, exact duplicates."""
    parts = []
    # dense field: 20k rows in 0.5 deg^2, so many tiles and many pairs at random
    parts.append((rng.uniform(10, 10.7, 20000), rng.uniform(-0.35, 0.35, 20000)))
    # sparse all-sky rows, crossing ra = 0/360 and near the poles
    parts.append((rng.uniform(0, 360, 5000), np.degrees(np.arcsin(rng.uniform(-1, 1, 5000)))))
    parts.extend(_border_pairs(rng, 150))
    base_ra, base_dec = rng.uniform(9.9, 10.8, 1500), rng.uniform(-0.4, 0.4, 1500)
    # pairs at 0.2-0.99 arcsec
    sep = rng.uniform(0.2, 0.99, 1500) * ARCSEC
    ang = rng.uniform(0, 2 * np.pi, 1500)
    parts.append((base_ra, base_dec))
    parts.append(
        (base_ra + sep * np.cos(ang) / np.cos(np.radians(base_dec)), base_dec + sep * np.sin(ang))
    )
    # exact duplicates (distance 0)
    parts.append((base_ra[:300], base_dec[:300]))
    # chains A-B-C with 0.8" steps: A-C is 1.6" apart, farther than the radius
    chain_ra, chain_dec = rng.uniform(10, 10.6, 200), rng.uniform(-0.3, 0.3, 200)
    for step in (0, 1, 2):
        parts.append((chain_ra + step * 0.8 * ARCSEC / np.cos(np.radians(chain_dec)), chain_dec))
    # pairs straddling ra = 0 and near the pole
    parts.append(
        (
            np.array([359.99999, 0.0000001, 45.0, 45.0 + 180.0]),
            np.array([0.0, 0.0, 89.99995, 89.99995]),
        )
    )
    ra = np.concatenate([p[0] for p in parts])
    dec = np.concatenate([p[1] for p in parts])
    return _frame(ra, dec)


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory):
    rng = np.random.default_rng(12345)
    df = _scenario(rng)
    root = tmp_path_factory.mktemp("hats")
    table = pa.Table.from_pandas(df, schema=ingest_schema({}), preserve_index=False)
    files = []
    for i, start in enumerate(range(0, len(df), 12000)):  # several input files, as ingest makes
        path = root / f"in{i}.parquet"
        pq.write_table(table.slice(start, 12000), path)
        files.append(path)
    settings = {
        "pixel_threshold": 2500,
        "highest_healpix_order": 10,
        "margin_threshold_arcsec": 2.0,
    }
    info = partition.partition_catalog(files, root / "cat", root / "margin", settings, n_workers=1)
    return df, root / "cat", root / "margin", info


def _home_partition(catalog_dir):
    parts = {}
    for i, f in enumerate(partition_files(catalog_dir)):
        for id_ in pq.read_table(f, columns=["id"]).column("id").to_pylist():
            parts[id_] = i
    return parts


@pytest.mark.parametrize("radius", [1.0, 1.7])
def test_pairs_equal_brute_force(partitioned, radius):
    df, cat, margin, info = partitioned
    assert info["partitions"] > 10
    found = duplicates.find_pairs(cat, margin, radius)
    ref = duplicates.reference_pairs(df, radius)
    assert len(ref) > 1500
    pd.testing.assert_frame_equal(found[["id_a", "id_b"]], ref[["id_a", "id_b"]])
    np.testing.assert_allclose(found["sep_arcsec"], ref["sep_arcsec"], atol=1e-6)
    # the test covers what it claims: pairs across tile borders and at distance 0
    home = _home_partition(cat)
    crossing = sum(home[a] != home[b] for a, b in zip(found["id_a"], found["id_b"], strict=True))
    assert crossing >= 30  # planted border pairs that fall on partition borders
    assert (found["sep_arcsec"] == 0).sum() >= 300


def test_groups_equal_brute_force_components(partitioned):
    df, cat, margin, _ = partitioned
    groups = duplicates.group_pairs(duplicates.find_pairs(cat, margin, 1.0))
    ref = duplicates.group_pairs(duplicates.reference_pairs(df, 1.0))
    pd.testing.assert_frame_equal(groups, ref)
    sizes = groups.groupby("group_id").size()
    assert sizes.max() >= 3  # chains joined into one group


def test_chain_is_one_group_even_when_ends_are_far_apart():
    ra = np.array([10.0, 10.0 + 0.8 * ARCSEC, 10.0 + 1.6 * ARCSEC, 20.0])
    df = _frame(ra, np.zeros(4))
    pairs = duplicates.reference_pairs(df, 1.0)
    assert len(pairs) == 2  # A-B, B-C; not A-C
    groups = duplicates.group_pairs(pairs)
    assert groups["group_id"].nunique() == 1 and len(groups) == 3


def test_group_numbering_is_deterministic():
    pairs = pd.DataFrame(
        {"id_a": ["b", "a", "x"], "id_b": ["c", "z", "y"], "sep_arcsec": [0.1, 0.2, 0.3]}
    )
    groups = duplicates.group_pairs(duplicates.sort_pairs(pairs))
    assert groups.to_dict("list") == {
        "id": ["a", "z", "b", "c", "x", "y"],
        "group_id": [1, 1, 2, 2, 3, 3],
    }


@pytest.mark.parametrize("same_tile", [True, False], ids=["tile+margin", "different-tiles"])
def test_all_pairs_algorithm_keeps_every_left_right_pair_once(same_tile):
    """Both paths of AllPairsCrossmatch: each (left, right) pair in range with id_left < id_right.

    A tile against itself + margin takes the one-tree path; anything else the two-tree one.
    Exact duplicates (distance 0) and ids that sort before and after their partner included.
    """
    from types import SimpleNamespace

    from lsdb.core.crossmatch.crossmatch_args import CrossmatchArgs

    rng = np.random.default_rng(3)

    def rows(prefix: str, n: int) -> pd.DataFrame:
        ra = 10 + rng.uniform(0, 20, n) / 3600
        dec = rng.uniform(0, 20, n) / 3600
        ids = [f"{prefix}{k:04d}" for k in rng.permutation(n)]
        return pd.DataFrame({"id": pd.array(ids, dtype="string"), "ra": ra, "dec": dec})

    left = rows("m", 300)
    left.loc[5, ["ra", "dec"]] = left.loc[4, ["ra", "dec"]].to_numpy()  # distance 0
    other = rows("a" if same_tile else "z", 200)  # margin ids sort before the tile's
    other.loc[0, ["ra", "dec"]] = left.loc[7, ["ra", "dec"]].to_numpy()  # distance 0 across
    right = pd.concat([left, other], ignore_index=True) if same_tile else other
    info = SimpleNamespace(ra_column="ra", dec_column="dec")
    args = CrossmatchArgs(
        left_df=left,
        right_df=right,
        left_order=5,
        left_pixel=1,
        right_order=5,
        right_pixel=1 if same_tile else 2,
        left_catalog_info=info,
        right_catalog_info=info,
        right_margin_catalog_info=None,
    )
    algorithm = duplicates._all_pairs_algorithm(2.0, "id")
    li, ri, extra = algorithm.perform_crossmatch(args)
    got = dict(
        zip(
            zip(left["id"].to_numpy()[li], right["id"].to_numpy()[ri], strict=True),
            extra["_dist_arcsec"].to_numpy(dtype=float),
            strict=True,
        )
    )
    assert len(got) == len(li)  # no pair twice

    lxyz = duplicates.unit_vectors(left["ra"].to_numpy(), left["dec"].to_numpy())
    rxyz = duplicates.unit_vectors(right["ra"].to_numpy(), right["dec"].to_numpy())
    sep = duplicates.chord_to_arcsec(np.linalg.norm(lxyz[:, None] - rxyz[None], axis=2))
    want = {
        (a, b): sep[i, j]
        for i, a in enumerate(left["id"])
        for j, b in enumerate(right["id"])
        if a < b and sep[i, j] <= 2.0
    }
    assert set(got) == set(want) and len(want) > 20
    assert min(want.values()) == 0.0  # the distance-0 pair is there
    for pair, dist in want.items():
        assert got[pair] == pytest.approx(dist, abs=1e-6)
