import numpy as np
import pandas as pd
import pytest

from pzforge.combine.resolve import apply_mode, resolve_groups

DEFAULT = [
    {"column": "z_flag_homogenized", "order": "desc"},
    {"column": "type_homogenized", "order": ["s", "g", "p"]},
    {"column": "z_err", "order": "asc"},
]


def members(rows):
    df = pd.DataFrame(
        rows,
        columns=[
            "id",
            "group_id",
            "z",
            "z_flag_homogenized",
            "type_homogenized",
            "z_err",
            "survey",
        ],
    )
    df["z_flag_homogenized"] = df["z_flag_homogenized"].astype("Int8")
    return df


def ties(df, **kw):
    out = resolve_groups(df, DEFAULT, **kw)
    return dict(zip(out["id"], out["tie_result"].tolist(), strict=True))


def test_best_flag_wins():
    df = members([("a", 1, 0.5, 3, "s", 0.01, "X"), ("b", 1, 0.5, 4, "s", 0.1, "Y")])
    assert ties(df) == {"a": 0, "b": 1}


def test_type_breaks_flag_tie():
    df = members(
        [
            ("a", 1, 0.5, 3, "p", 0.0, "X"),
            ("b", 1, 0.9, 3, "g", 0.1, "Y"),
            ("c", 1, 0.2, 3, "s", 0.5, "Z"),
        ]
    )
    assert ties(df) == {"a": 0, "b": 0, "c": 1}


def test_z_err_breaks_type_tie_and_missing_ranks_last():
    df = members(
        [
            ("a", 1, 0.5, 3, "s", None, "X"),
            ("b", 1, 0.9, 3, "s", 0.1, "Y"),
            ("c", 1, 0.2, 3, "s", 0.05, "Z"),
        ]
    )
    assert ties(df) == {"a": 0, "b": 0, "c": 1}


def test_survey_priority_is_the_last_criterion():
    df = members([("a", 1, 0.5, 3, "s", 0.1, "X"), ("b", 1, 0.9, 3, "s", 0.1, "Y")])
    assert ties(df, survey_priority=["Y", "X"]) == {"a": 0, "b": 1}
    assert ties(df, survey_priority=["y"]) == {"a": 0, "b": 1}  # names as the rules match them


def test_tie_with_agreeing_redshifts_keeps_smallest_id():
    df = members([("b", 1, 0.5000, 3, "s", 0.1, "X"), ("a", 1, 0.5008, 3, "s", 0.1, "Y")])
    assert ties(df, delta_z=0.001) == {"a": 1, "b": 0}


def test_tie_with_disagreeing_redshifts_is_unresolved():
    df = members(
        [
            ("a", 1, 0.5, 3, "s", 0.1, "X"),
            ("b", 1, 0.7, 3, "s", 0.1, "Y"),
            ("c", 1, 0.5, 2, "s", 0.1, "Y"),
        ]
    )
    assert ties(df, delta_z=0.001) == {"a": 2, "b": 2, "c": 0}


def test_stars_get_3_and_never_win():
    df = members([("a", 1, 0.0, 6, "s", 0.0, "X"), ("b", 1, 0.5, 1, "p", 0.1, "Y")])
    assert ties(df) == {"a": 3, "b": 1}
    only_stars = members([("a", 1, 0.0, 6, "s", 0.0, "X"), ("b", 1, 0.0, 6, "s", 0.0, "Y")])
    assert ties(only_stars) == {"a": 3, "b": 3}


def test_unknown_flag_ranks_below_known():
    df = members([("a", 1, 0.5, None, "s", 0.0, "X"), ("b", 1, 0.5, 0, "s", 0.1, "Y")])
    assert ties(df) == {"a": 0, "b": 1}


def test_groups_are_independent_and_compared_to_lists_the_others():
    df = members(
        [
            ("a", 1, 0.5, 4, "s", 0.1, "X"),
            ("b", 1, 0.5, 3, "s", 0.1, "Y"),
            ("c", 1, 0.5, 3, "s", 0.1, "Y"),
            ("d", 2, 0.5, 2, "s", 0.1, "X"),
            ("e", 2, 0.5, 3, "s", 0.1, "Y"),
        ]
    )
    out = resolve_groups(df, DEFAULT)
    assert dict(zip(out["id"], out["tie_result"], strict=True)) == {
        "a": 1,
        "b": 0,
        "c": 0,
        "d": 0,
        "e": 1,
    }
    assert dict(zip(out["id"], out["compared_to"], strict=True))["b"] == "a,c"


def test_unknown_criterion_column_is_a_config_error():
    from pzforge.errors import ConfigError

    df = members([("a", 1, 0.5, 4, "s", 0.1, "X"), ("b", 1, 0.5, 3, "s", 0.1, "Y")])
    with pytest.raises(ConfigError, match="nope"):
        resolve_groups(df, [{"column": "nope", "order": "asc"}])


def _tied_table():
    df = members(
        [
            ("a", 1, 0.5, 3, "s", 0.1, "X"),
            ("b", 1, 0.9, 3, "s", 0.1, "Y"),
            ("c", 2, 0.5, 3, "s", 0.1, "X"),
            ("d", 2, 0.9, 3, "s", 0.1, "Y"),
            ("e", 2, 0.9, 1, "s", 0.1, "Y"),
            ("f", 3, 0.5, 4, "s", 0.1, "X"),
            ("g", 3, 0.5, 3, "s", 0.1, "X"),
        ]
    )
    return resolve_groups(df, DEFAULT)


def test_modes():
    table = _tied_table()
    assert apply_mode(table, "mark", "keep_all", 1)["keep"].all()
    keep_all = apply_mode(table, "remove", "keep_all", 1)
    assert set(keep_all.loc[keep_all["keep"], "id"]) == {"a", "b", "c", "d", "f"}
    remove_all = apply_mode(table, "remove", "remove_all", 1)
    assert set(remove_all.loc[remove_all["keep"], "id"]) == {"f"}
    draw = apply_mode(table, "remove", "draw_one", 7)
    kept = draw.loc[draw["keep"]]
    assert kept.groupby("group_id").size().to_dict() == {1: 1, 2: 1, 3: 1}
    again = apply_mode(table, "remove", "draw_one", 7)
    assert again["keep"].tolist() == draw["keep"].tolist()  # seeded: same draw
    picks = {tuple(apply_mode(table, "remove", "draw_one", s)["keep"]) for s in range(20)}
    assert len(picks) > 1  # the seed matters


def test_vectorized_resolution_scales():
    rng = np.random.default_rng(0)
    n = 200_000
    df = pd.DataFrame(
        {
            "id": [f"x{i:07d}" for i in range(n)],
            "group_id": np.repeat(np.arange(n // 2), 2),
            "z": rng.random(n),
            "z_flag_homogenized": pd.array(rng.integers(0, 5, n), dtype="Int8"),
            "type_homogenized": rng.choice(["s", "g", "p"], n),
            "z_err": rng.random(n),
            "survey": "S",
        }
    )
    out = resolve_groups(df, DEFAULT)
    assert (out.groupby("group_id")["tie_result"].apply(lambda s: (s == 1).sum() <= 1)).all()


def test_member_order_does_not_matter_and_missing_type_ranks_last():
    rows = [
        ("b", 1, 0.5, 3, None, 0.1, "X"),
        ("a", 1, 0.5, 3, "p", 0.1, "X"),
        ("d", 2, 1.0, 4, "g", 0.2, "Y"),
        ("c", 2, 1.0, 4, "s", 0.2, "Y"),
    ]
    forward = resolve_groups(members(rows), DEFAULT)
    backward = resolve_groups(members(rows[::-1]), DEFAULT)
    pd.testing.assert_frame_equal(forward, backward)
    assert forward["id"].tolist() == ["a", "b", "c", "d"]  # sorted by (group_id, id)
    assert ties(members(rows)) == {"a": 1, "b": 0, "c": 1, "d": 0}


def _one_partition(tmp_path, ids):
    part = tmp_path / "cat" / "dataset" / "Norder=0" / "Dir=0" / "Npix=1.parquet"
    part.parent.mkdir(parents=True)
    n = len(ids)
    pd.DataFrame(
        {"id": ids, "z": np.arange(n, dtype=float), "_healpix_29": np.arange(n) * 1000}
    ).to_parquet(part)
    return tmp_path / "cat"


def test_load_members_keeps_group_order_and_names_missing_members(tmp_path):
    from pzforge.combine.resolve import load_members
    from pzforge.errors import PipelineError

    catalog = _one_partition(tmp_path, ["x", "y", "z", "w"])
    groups = pd.DataFrame({"id": ["z", "x", "w"], "group_id": [1, 1, 2]})
    out = load_members(catalog, groups, ["z"]).to_pandas()
    assert out["id"].tolist() == ["z", "x", "w"]
    assert out["group_id"].tolist() == [1, 1, 2]
    assert out["z"].tolist() == [2.0, 0.0, 3.0]
    assert out["_healpix_29"].tolist() == [2000, 0, 3000]  # for the lookup when writing
    with pytest.raises(PipelineError, match=r"not found .*\['q'\]"):
        load_members(catalog, pd.DataFrame({"id": ["x", "q"], "group_id": [1, 1]}), ["z"])


def test_resolution_lookup_matches_ids_not_positions():
    """Members found by id within the partition's _healpix_29 range, whatever shares a pixel."""
    from pzforge.combine.write import ResolutionLookup

    resolution = pd.DataFrame(
        {
            "id": ["a:2", "b:1", "c:9", "d:4"],
            "group_id": [1, 1, 2, 2],
            "n_members": np.array([2, 2, 2, 2], dtype=np.int32),
            "tie_result": np.array([1, 0, 1, 0], dtype=np.int8),
            "tie_reason": ["z_err", "z_err", "unique", "delta_z"],
            "compared_to": ["b:1", "a:2", "d:4", "c:9"],
            "group_surveys": ["X", "X", "Y", "Y"],
            "keep": [True, False, True, True],
            "_healpix_29": [50, 50, 10**12, 7],  # c:9 lives in another partition
        }
    )
    lookup = ResolutionLookup(resolution, "remove")
    # a:2 and b:1 at the same position; x:1 shares their pixel but is no member; d:4 first
    part = pd.DataFrame(
        {
            "id": pd.array(["d:4", "x:1", "a:2", "b:1", "y:5", "s:1"], dtype="string"),
            "survey": pd.array(["Y", "X", "X", "X", "Z", "Z"], dtype="string"),
            "z_flag_homogenized": pd.array([3, 4, 4, 3, None, 6], dtype="Int8"),
        },
        index=pd.Index([7, 50, 50, 50, 60, 61], name="_healpix_29"),
    )
    rows = lookup.member_index(part).to_pylist()
    assert [None if r is None else lookup.ids[r].as_py() for r in rows] == [
        "d:4",
        None,
        "a:2",
        "b:1",
        None,
        None,
    ]
    out = lookup.apply(part)
    # b:1 not kept; s:1 is an isolated star: tie_result 3, dropped by remove mode
    assert out["id"].tolist() == ["d:4", "x:1", "a:2", "y:5"]
    assert out["tie_result"].tolist() == [0, 1, 1, 1]  # rows without a group count as kept
    assert out["tie_reason"].tolist() == ["delta_z", "unique", "z_err", "unique"]
    assert out["n_members"].tolist() == [2, 1, 2, 1]
    assert out["group_surveys"].tolist() == ["Y", "X", "X", "Z"]
    assert out["group_id"].isna().tolist() == [False, True, False, True]
    marked = ResolutionLookup(resolution, "mark").apply(part)
    star = marked.loc[marked["id"] == "s:1"].iloc[0]
    assert (star["tie_result"], star["tie_reason"]) == (3, "star")
    assert lookup.member_index(part.iloc[:0]).to_pylist() == []
    far = part.set_axis(pd.Index([1, 2, 3, 4, 5, 6], name="_healpix_29"))
    assert lookup.member_index(far).null_count == len(far)  # no member in range


# --- issue 15: stars, delta-z subsets, catalog priority, tie_reason ---------------------------


def explain(df, **kw):
    out = resolve_groups(df, DEFAULT, **kw)
    return {
        i: (t, r) for i, t, r in zip(out["id"], out["tie_result"], out["tie_reason"], strict=True)
    }


def with_catalogs(df, catalogs):
    return df.assign(catalog=catalogs)


def test_three_row_tie_two_agree_one_disagrees():
    """Two rows agree within delta_z, one does not: one copy 0, two unresolved 2."""
    df = members(
        [
            ("a", 1, 0.5000, 3, "s", None, "X"),
            ("b", 1, 0.5004, 3, "s", None, "Y"),
            ("c", 1, 0.9000, 3, "s", None, "Z"),
        ]
    )
    assert explain(df, delta_z=0.001) == {
        "a": (2, "unresolved"),
        "b": (0, "delta_z"),
        "c": (2, "unresolved"),
    }


def test_tie_where_all_agree_keeps_one_by_catalog_priority():
    df = with_catalogs(
        members(
            [
                ("a:1", 1, 0.5000, 3, "s", None, "X"),
                ("b:1", 1, 0.5002, 3, "s", None, "Y"),
                ("c:1", 1, 0.5009, 3, "s", None, "Z"),
            ]
        ),
        ["a", "b", "c"],
    )
    assert explain(df, delta_z=0.001, catalog_priority=["c", "a", "b"]) == {
        "a:1": (0, "delta_z"),
        "b:1": (0, "delta_z"),
        "c:1": (1, "catalog_priority"),
    }


def test_identical_copies_kept_by_config_order_not_by_name():
    """The same measurement in two catalogs: the config's catalog order decides, both ways."""
    rows = [("alpha:7", 1, 0.3, 4, "s", 0.001, "SDSS"), ("zeta:7", 1, 0.3, 4, "s", 0.001, "SDSS")]
    df = with_catalogs(members(rows), ["alpha", "zeta"])
    assert explain(df, catalog_priority=["zeta", "alpha"]) == {
        "alpha:7": (0, "delta_z"),
        "zeta:7": (1, "catalog_priority"),
    }
    assert explain(df, catalog_priority=["alpha", "zeta"]) == {
        "alpha:7": (1, "catalog_priority"),
        "zeta:7": (0, "delta_z"),
    }
    # member order in the input does not matter either
    assert explain(
        with_catalogs(members(rows[::-1]), ["zeta", "alpha"]),
        catalog_priority=[
            "zeta",
            "alpha",
        ],
    )["zeta:7"] == (1, "catalog_priority")


def test_tie_reason_names_the_deciding_criterion():
    df = members(
        [
            ("a", 1, 0.5, 4, "s", 0.01, "X"),  # best
            ("b", 1, 0.5, 3, "s", 0.001, "Y"),  # loses on the flag
            ("c", 1, 0.5, 4, "p", 0.001, "Y"),  # loses on the type
            ("d", 1, 0.5, 4, "s", 0.02, "Y"),  # loses on z_err: the runner-up
        ]
    )
    assert explain(df) == {
        "a": (1, "z_err"),
        "b": (0, "z_flag_homogenized"),
        "c": (0, "type_homogenized"),
        "d": (0, "z_err"),
    }
    df = members([("a", 2, 0.5, 3, "s", 0.1, "X"), ("b", 2, 0.9, 3, "s", 0.1, "Y")])
    assert explain(df, survey_priority=["Y", "X"]) == {
        "a": (0, "survey_priority"),
        "b": (1, "survey_priority"),
    }


def test_stars_in_a_group_and_a_galaxy_alone_among_stars():
    df = members(
        [
            ("a", 1, 0.0, 6, "s", 0.0, "X"),
            ("b", 1, 0.5, 1, "p", 0.1, "Y"),
            ("c", 2, 0.0, 6, "s", 0.0, "X"),
            ("d", 2, 0.0, 6, "s", 0.0, "Y"),
        ]
    )
    assert explain(df) == {
        "a": (3, "star"),
        "b": (1, "unique"),
        "c": (3, "star"),
        "d": (3, "star"),
    }


def test_isolated_stars_get_3_and_remove_mode_drops_every_star():
    from pzforge.combine.resolve import singletons

    tie, reason, keep = singletons(np.array([6.0, 4.0, np.nan]), "mark")
    assert tie.tolist() == [3, 1, 1] and reason.tolist() == ["star", "unique", "unique"]
    assert keep.tolist() == [True, True, True]
    assert singletons(np.array([6.0, 4.0]), "remove")[2].tolist() == [False, True]
    grouped = apply_mode(
        resolve_groups(
            members([("a", 1, 0.0, 6, "s", 0.0, "X"), ("b", 1, 0.5, 3, "s", 0.1, "Y")]),
            DEFAULT,
        ),
        "remove",
        "keep_all",
        1,
    )
    assert grouped.set_index("id")["keep"].to_dict() == {"a": False, "b": True}


def test_rows_without_redshift_never_win():
    df = members(
        [
            ("a", 1, None, 0, "s", None, "X"),
            ("b", 1, 0.7, 0, "s", None, "Y"),
            ("c", 2, None, 0, "s", None, "X"),
            ("d", 2, None, 0, "s", None, "Y"),
        ]
    )
    df = with_catalogs(df.astype({"z": "float64"}), ["x", "y", "x", "y"])
    assert explain(df, catalog_priority=["y", "x"]) == {
        "a": (0, "no_z"),
        "b": (1, "no_z"),
        "c": (0, "delta_z"),  # two rows without redshift: one object, one copy kept
        "d": (1, "catalog_priority"),
    }


def test_group_columns():
    df = members(
        [
            ("a", 1, 0.5, 4, "s", 0.1, "VVDS"),
            ("b", 1, 0.5, 3, "s", 0.1, "DESI"),
            ("c", 1, 0.5, 3, "s", 0.1, "VVDS"),
            ("d", 2, 0.5, 2, "s", 0.1, "X"),
            ("e", 2, 0.5, 3, "s", 0.1, "X"),
        ]
    )
    out = resolve_groups(df, DEFAULT).set_index("id")
    assert out["n_members"].tolist() == [3, 3, 3, 2, 2]
    assert out.loc["a", "group_surveys"] == "DESI,VVDS" and out.loc["d", "group_surveys"] == "X"
    assert out.loc["a", "compared_to"] == "b,c"


@pytest.mark.parametrize(
    "mode,ties", [("mark", "keep_all"), ("remove", "keep_all"), ("remove", "draw_one")]
)
def test_resolution_in_chunks_equals_resolution_at_once(tmp_path, mode, ties):
    """Chunks of whole groups (7 members a chunk here) give the table resolved at once, draws
    included; no chunk cuts a group."""
    from pzforge.combine.resolve import group_chunks, resolve_duplicates

    rng = np.random.default_rng(5)
    n = 400
    ids = [f"c:{i:04d}" for i in range(n)]
    part = tmp_path / "cat" / "dataset" / "Norder=0" / "Dir=0" / "Npix=1.parquet"
    part.parent.mkdir(parents=True)
    pd.DataFrame(
        {
            "id": ids,
            "z": np.round(rng.choice([0.5, 0.5005, 0.9, np.nan], n), 4),
            "z_flag_homogenized": pd.array(rng.choice([3, 4, 6], n), dtype="Int8"),
            "survey": rng.choice(["A", "B", "C"], n),
            "catalog": rng.choice(["c1", "c2"], n),
            "_healpix_29": np.arange(n) * 1000,
        }
    ).to_parquet(part)
    group_of = np.sort(rng.integers(1, 120, n))  # 2-9 members a group, sorted by group
    groups = pd.DataFrame({"id": rng.permutation(ids), "group_id": group_of})
    groups = groups[groups.groupby("group_id")["id"].transform("size") > 1]
    settings = {"mode": mode, "ties": ties, "seed": 3, "criteria": [], "delta_z": 0.001}
    at_once = list(resolve_duplicates(tmp_path / "cat", groups, settings, chunk_members=10**6))
    chunked = list(resolve_duplicates(tmp_path / "cat", groups, settings, chunk_members=7))
    assert len(at_once) == 1 and len(chunked) > 20
    pd.testing.assert_frame_equal(pd.concat(chunked, ignore_index=True), at_once[0])
    if ties == "draw_one":
        assert (at_once[0]["tie_result"] == 2).any()  # the draws were exercised
    sorted_groups = np.sort(groups["group_id"].to_numpy())
    spans = list(group_chunks(sorted_groups, 7))
    assert spans[0][0] == 0 and spans[-1][1] == len(sorted_groups)
    for (_, stop), (start, _) in zip(spans[:-1], spans[1:], strict=True):
        assert stop == start and sorted_groups[stop - 1] < sorted_groups[start]


def test_a_resolution_that_fails_leaves_the_previous_file_untouched(tmp_path):
    """The step's failure path: the member lookup fails while the resolution file is being
    streamed; the file from before is left byte for byte, and no temporary file stays."""
    from pzforge.combine.pipeline import resolve_duplicates
    from pzforge.errors import PipelineError

    part = tmp_path / "input" / "catalog" / "dataset" / "Norder=0" / "Dir=0" / "Npix=1.parquet"
    part.parent.mkdir(parents=True)
    pd.DataFrame(
        {
            "id": ["x", "y"],
            "z": [0.1, 0.2],
            "z_flag_homogenized": pd.array([3, 4], dtype="Int8"),
            "survey": ["A", "B"],
            "catalog": ["c1", "c2"],
            "_healpix_29": [0, 1000],
        }
    ).to_parquet(part)
    groups = tmp_path / "groups.parquet"
    pd.DataFrame({"id": ["x", "q"], "group_id": [1, 1]}).to_parquet(groups)
    out = tmp_path / "out" / "resolution.parquet"
    out.parent.mkdir()
    out.write_bytes(b"the resolution of an earlier run")
    settings = {"mode": "mark", "ties": "keep_all", "seed": 1, "criteria": [], "delta_z": 0.001}
    with pytest.raises(PipelineError, match=r"not found .*\['q'\]"):
        resolve_duplicates(tmp_path / "input", groups, settings, out)
    assert out.read_bytes() == b"the resolution of an earlier run"
    assert [p.name for p in out.parent.iterdir()] == ["resolution.parquet"]
