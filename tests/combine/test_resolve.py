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
    out = load_members(catalog, groups, ["z"])
    assert out["id"].tolist() == ["z", "x", "w"]
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
            "tie_result": np.array([1, 0, 1, 0], dtype=np.int8),
            "compared_to": ["b:1", "a:2", "d:4", "c:9"],
            "keep": [True, False, True, True],
            "_healpix_29": [50, 50, 10**12, 7],  # c:9 lives in another partition
        }
    )
    lookup = ResolutionLookup(resolution)
    # a:2 and b:1 at the same position; x:1 shares their pixel but is no member; d:4 first
    part = pd.DataFrame(
        {"id": pd.array(["d:4", "x:1", "a:2", "b:1", "y:5"], dtype="string")},
        index=pd.Index([7, 50, 50, 50, 60], name="_healpix_29"),
    )
    rows = lookup.member_index(part).to_pylist()
    assert [None if r is None else lookup.ids[r].as_py() for r in rows] == [
        "d:4",
        None,
        "a:2",
        "b:1",
        None,
    ]
    out = lookup.apply(part)
    assert out["id"].tolist() == ["d:4", "x:1", "a:2", "y:5"]  # b:1 not kept
    assert out["tie_result"].tolist() == [0, 1, 1, 1]  # rows without a group count as kept
    assert out["group_id"].isna().tolist() == [False, True, False, True]
    assert lookup.member_index(part.iloc[:0]).to_pylist() == []
    far = part.set_axis(pd.Index([1, 2, 3, 4, 5], name="_healpix_29"))
    assert lookup.member_index(far).null_count == len(far)  # no member in range
