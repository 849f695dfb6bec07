"""Resolve duplicate groups: stars, ranked criteria, redshift agreement, and the output mode.

Everything is vectorized over all group members at once (sorts and group-wise transforms), so
resolution costs O(members log members) however many groups there are.

tie_result: 1 kept, 0 duplicate discarded, 2 unresolved tie, 3 star (every star, in a group or
not: :func:`singletons` decides rows without a duplicate). tie_reason says which step decided.
The whole algorithm, with a worked example, is in docs/combine_redshift.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from pzforge.combine.homogenize import norm_survey_name
from pzforge.combine.settings import ResolutionSettings
from pzforge.errors import ConfigError, PipelineError
from pzforge.strings import as_arrow_strings
from pzforge.tiles.partition import HEALPIX, partition_files

KEPT, DISCARDED, UNRESOLVED, STAR = 1, 0, 2, 3
STAR_FLAG = 6

# tie_reason: why a row got its tie_result (docs/combine_redshift.md has the table).
UNIQUE = "unique"  # no other row to compare with (no group, or only stars besides it)
REASON_STAR = "star"  # z_flag_homogenized 6, grouped or not: tie_result 3
NO_Z = "no_z"  # has no redshift (validation.no_redshift: keep) and another member has one
DELTA_Z = "delta_z"  # tied on every criterion and within delta_z of the kept/tied row: a copy
CATALOG_PRIORITY = "catalog_priority"  # chosen among agreeing copies by catalog priority
REASON_UNRESOLVED = "unresolved"  # tied on every criterion, redshifts disagree
SURVEY_PRIORITY = "survey_priority"
TIE_REASONS = (UNIQUE, REASON_STAR, NO_Z, DELTA_Z, CATALOG_PRIORITY, REASON_UNRESOLVED)


def criterion_reason(criterion: dict[str, Any]) -> str:
    """The tie_reason a criterion writes: its column name (survey_priority for the list)."""
    return criterion.get("reason") or criterion["column"]


def _rank_key(values: pd.Series, order: Any, column: str) -> np.ndarray:
    """A float key where smaller is better; missing values rank last (+inf)."""
    if isinstance(order, list):
        lookup = {v: float(i) for i, v in enumerate(order)}  # ranked per distinct value
        codes, uniques = pd.factorize(values)
        ranks = np.array([lookup.get(u, float(len(order))) for u in uniques] + [len(order)])
        return ranks.astype("float64")[np.where(codes < 0, len(uniques), codes)]
    if order not in ("asc", "desc"):
        raise ConfigError(f"resolution.criteria: order of {column!r} must be asc, desc or a list")
    if pd.api.types.is_numeric_dtype(values):
        key = values.astype("float64").to_numpy(na_value=np.nan)
    else:  # text: rank by sorted distinct values
        codes, _ = pd.factorize(values, sort=True)
        key = np.where(codes < 0, np.nan, codes).astype("float64")
    key = -key if order == "desc" else key
    return np.where(np.isnan(key), np.inf, key)


def _catalog_rank(catalogs: pd.Series, priority: list[str] | tuple[str, ...]) -> np.ndarray:
    """Position of each row's catalog in the priority list; catalogs not listed come after, in
    name order (a run always passes the full list: resolution.catalog_priority, then the order
    of ``catalogs:`` in the config)."""
    codes, uniques = pd.factorize(catalogs)  # rank the few distinct names, then take
    order = list(dict.fromkeys(priority))
    rest = sorted({str(u) for u in uniques} - set(order))
    lookup = {c: float(i) for i, c in enumerate([*order, *rest])}
    ranks = np.array([lookup[str(u)] for u in uniques] + [np.inf], dtype="float64")
    return ranks[np.where(codes < 0, len(uniques), codes)]


def resolve_groups(
    members: pd.DataFrame,
    criteria: list[dict[str, Any]],
    *,
    survey_priority: list[str] = (),
    catalog_priority: list[str] = (),
    delta_z: float = 0.001,
) -> pd.DataFrame:
    """tie_result and tie_reason for every group member.

    ``members`` has id, group_id, z, z_flag_homogenized, survey, catalog (optional) and every
    column the criteria name. The algorithm (docs/combine_redshift.md):

    1. stars (z_flag_homogenized 6) get 3 and take no part in the ranking;
    2. the other members are ranked: rows with a redshift before rows without, then the
       criteria in order, then ``survey_priority``; each loser's tie_reason is the first
       criterion on which it is worse than the group's best row;
    3. the rows still tied with the best are split into subsets whose redshifts agree within
       ``delta_z`` (sorted by z, each subset spans at most delta_z from its lowest z); in each
       subset one row is chosen by ``catalog_priority`` (then id) and the others are redundant
       copies (0, delta_z);
    4. one subset: its chosen row is kept (1; tie_reason catalog_priority when it had copies,
       else the criterion that beat the runner-up); several subsets: their chosen rows are
       unresolved (2).

    Returns id, group_id, n_members, tie_result (int8), tie_reason, compared_to (other member
    ids), group_surveys (the group's surveys), plus survey, catalog, z and _healpix_29 when
    given; sorted by (group_id, id).
    """
    crit = [dict(c) for c in criteria]
    if survey_priority:  # survey names compared as the rules match them (case-insensitively)
        members = members.assign(_survey_key=members["survey"].astype(str).map(norm_survey_name))
        order = [norm_survey_name(s) for s in survey_priority]
        crit.append({"column": "_survey_key", "order": order, "reason": SURVEY_PRIORITY})
    for c in crit:
        if c["column"] not in members.columns:
            raise ConfigError(
                f"resolution.criteria names column {c['column']!r}, which the combined catalog "
                f"does not have; columns: {', '.join(members.columns)}"
            )
    df = _sorted_by_group_and_id(members)
    n = len(df)
    groups = df["group_id"].to_numpy(dtype=np.int64)
    star = (df["z_flag_homogenized"].astype("float64") == STAR_FLAG).to_numpy()
    z = df["z"].to_numpy(dtype=float, na_value=np.nan)
    no_z = np.isnan(z)
    keys = [np.where(no_z, 1.0, 0.0)]  # a redshift beats none
    keys += [_rank_key(df[c["column"]], c["order"], c["column"]) for c in crit]
    names = [NO_Z, *[criterion_reason(c) for c in crit]]
    catalogs = df["catalog"] if "catalog" in df.columns else pd.Series([None] * n)
    cat_rank = _catalog_rank(catalogs, catalog_priority)
    pos = np.arange(n)

    # Rank: stars last; then the keys; then catalog priority and id (the copy kept when tied).
    key_cols = {f"_k{i}": k for i, k in enumerate(keys)}
    work = pd.DataFrame({"g": groups, "star": star, **key_cols, "cat": cat_rank, "pos": pos})
    ordered = work.sort_values(["g", "star", *key_cols, "cat", "pos"], kind="stable")
    o_pos = ordered["pos"].to_numpy()
    o_g = groups[o_pos]
    is_first = np.r_[True, o_g[1:] != o_g[:-1]]
    first_idx = np.maximum.accumulate(np.where(is_first, np.arange(n), 0))
    o_star = star[o_pos]
    leader_star = o_star[first_idx]  # a group of stars only
    # level: the first key on which a row differs from its group's best row (len(keys): tied)
    level = np.full(n, len(keys), dtype=np.int64)
    for i in range(len(keys) - 1, -1, -1):
        k = keys[i][o_pos]
        level = np.where(k != k[first_idx], i, level)
    competing = ~o_star & ~leader_star
    tied = competing & (level == len(keys))

    # Subsets of the tied rows that agree within delta_z (greedy from the lowest z).
    o_z = np.where(np.isnan(z[o_pos]), 0.0, z[o_pos])  # rows without z: one subset
    subset = np.full(n, -1, dtype=np.int64)
    left = np.flatnonzero(tied)
    step = 0
    while len(left):
        start = pd.Series(o_z[left]).groupby(o_g[left]).transform("min").to_numpy()
        take = o_z[left] <= start + delta_z + 1e-12
        subset[left[take]] = step
        left = left[~take]
        step += 1
    tied_frame = pd.DataFrame(
        {"g": o_g, "s": subset, "cat": cat_rank[o_pos], "pos": o_pos, "i": np.arange(n)}
    )[tied]
    tied_frame = tied_frame.sort_values(["g", "s", "cat", "pos"], kind="stable")
    chosen = np.zeros(n, dtype=bool)
    chosen[tied_frame["i"].to_numpy()[~tied_frame.duplicated(["g", "s"]).to_numpy()]] = True
    subset_size = np.zeros(n, dtype=np.int64)
    sizes = tied_frame.groupby(["g", "s"])["i"].transform("size").to_numpy()
    subset_size[tied_frame["i"].to_numpy()] = sizes
    n_subsets = (
        pd.Series(np.where(chosen, 1, 0)).groupby(o_g).transform("sum").to_numpy(dtype=np.int64)
    )
    # the criterion that separated the best row from the runner-up: the deepest loser level
    losing_level = np.where(competing & ~tied, level, -1)
    decided = pd.Series(losing_level).groupby(o_g).transform("max").to_numpy()

    result = np.full(n, DISCARDED, dtype=np.int8)
    reason = np.empty(n, dtype=object)
    loser = competing & ~tied
    names_arr = np.array(names, dtype=object)
    reason[loser] = names_arr[level[loser]]
    copies = tied & ~chosen
    reason[copies] = DELTA_Z
    winner = chosen & (n_subsets == 1)
    result[winner] = KEPT
    reason[winner & (subset_size > 1)] = CATALOG_PRIORITY
    alone = winner & (subset_size == 1)
    reason[alone & (decided >= 0)] = names_arr[decided[alone & (decided >= 0)]]
    reason[alone & (decided < 0)] = UNIQUE
    unresolved = chosen & (n_subsets > 1)
    result[unresolved] = UNRESOLVED
    reason[unresolved] = REASON_UNRESOLVED
    result[o_star] = STAR
    reason[o_star] = REASON_STAR

    tie = np.empty(n, dtype=np.int8)
    tie[o_pos] = result
    why = np.empty(n, dtype=object)
    why[o_pos] = reason
    out = pd.DataFrame(
        {
            "id": df["id"].astype("string"),
            "group_id": df["group_id"].astype("int64"),
            "n_members": pd.Series(groups).groupby(groups).transform("size").astype("int32"),
            "tie_result": tie,
            "tie_reason": pd.array(why, dtype="string"),
            "compared_to": _compared_to(df),
            "group_surveys": _group_surveys(df),
        }
    )
    for col, dtype in (("survey", "string"), ("catalog", "string"), ("z", "float64")):
        if col in df.columns:  # carried for the summary and the QA report
            out[col] = df[col].astype(dtype)
    if "_healpix_29" in df.columns:  # carried for the per-partition lookup when writing
        out["_healpix_29"] = df["_healpix_29"].astype("int64")
    return out


def singletons(flags: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tie_result, tie_reason and keep of rows without a duplicate (``flags``:
    z_flag_homogenized as float, NaN when unknown): 3 / star for stars, else 1 / unique.
    Remove mode keeps tie_result 1 only, so it drops stars wherever they are."""
    star = flags == STAR_FLAG
    tie = np.where(star, STAR, KEPT).astype(np.int8)
    reason = np.where(star, REASON_STAR, UNIQUE).astype(object)
    keep = ~star if mode == "remove" else np.ones(len(flags), dtype=bool)
    return tie, reason, keep


def _group_surveys(df: pd.DataFrame) -> pd.Series:
    """For each member (df sorted by group_id), the distinct surveys of its group, sorted,
    comma-separated. A bitmask per group (OR over its rows), spelled once per distinct mask."""
    if "survey" not in df.columns:
        return pd.Series([None] * len(df), dtype="string")
    codes, names = pd.factorize(df["survey"].astype(str), sort=True)
    groups = df["group_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if len(groups) else []
    if len(names) > 62:  # too many surveys for one int64 mask: per group, in Python
        out: list[str] = []
        ends = np.r_[starts[1:], len(groups)]
        for s, e in zip(starts, ends, strict=True):
            text = ",".join(sorted({names[c] for c in codes[s:e]}))
            out += [text] * (e - s)
        return pd.Series(out, dtype="string")
    bits = np.left_shift(np.int64(1), codes.astype(np.int64))
    masks = np.bitwise_or.reduceat(bits, starts) if len(bits) else bits
    distinct, inverse = np.unique(masks, return_inverse=True)
    spelled = np.array(
        [",".join(names[i] for i in range(len(names)) if m >> i & 1) for m in distinct],
        dtype=object,
    )
    sizes = np.diff(np.r_[starts, len(groups)])
    return pd.Series(np.repeat(spelled[inverse], sizes), dtype="string")


def _sorted_by_group_and_id(members: pd.DataFrame) -> pd.DataFrame:
    """Members sorted by (group_id, id): Arrow's stable multi-key sort, 1 s faster than pandas'
    on a million string ids."""
    keys = pa.table(
        {
            "group_id": pa.array(members["group_id"].to_numpy(dtype="int64")),
            "id": as_arrow_strings(members["id"]),
        }
    )
    order = pc.sort_indices(keys, sort_keys=[("group_id", "ascending"), ("id", "ascending")])
    return members.take(order.to_numpy()).reset_index(drop=True)


def _compared_to(df: pd.DataFrame) -> pd.Series:
    """For each member, the other ids of its group (df sorted by group_id, id)."""
    ids = df["id"].astype(str).tolist()
    groups = df["group_id"].to_numpy()
    out: list[str] = []
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], len(groups)]
    for s, e in zip(starts, ends, strict=True):
        members = ids[s:e]
        for i in range(len(members)):
            out.append(",".join(members[:i] + members[i + 1 :]))
    return pd.Series(out, dtype="string")


def apply_mode(
    resolution: pd.DataFrame,
    mode: str,
    ties: str,
    seed: int,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Add ``keep`` (does the row go to the output?) to a member table under a mode.

    mark keeps all rows. remove keeps tie_result 1 rows plus, for unresolved ties, all of them
    (keep_all), none (remove_all) or one per group drawn with a generator seeded by ``seed``
    (draw_one; the drawn row keeps tie_result 2 so users can see it was drawn). ``rng``: the
    generator to draw from when the table comes in chunks (one draw per row, in row order, so
    chunks give the draws of the whole table).
    """
    out = resolution.copy()
    if mode == "mark":
        out["keep"] = True
        return out
    if mode != "remove":
        raise ConfigError(f"resolution.mode {mode!r} has no duplicate resolution")
    keep = out["tie_result"].to_numpy() == KEPT
    tied = out["tie_result"].to_numpy() == UNRESOLVED
    if ties == "keep_all":
        keep |= tied
    elif ties == "draw_one":
        rng = np.random.default_rng(seed) if rng is None else rng
        draws = pd.Series(np.where(tied, rng.random(len(out)), -1.0), index=out.index)
        best = draws.groupby(out["group_id"]).transform("max")
        keep |= tied & (draws.to_numpy() == best.to_numpy())
    elif ties != "remove_all":
        raise ConfigError(f"resolution.ties must be keep_all, remove_all or draw_one, not {ties!r}")
    out["keep"] = keep
    return out


def _groups_table(groups: pa.Table | pd.DataFrame) -> pa.Table:
    """The groups (id, group_id) as Arrow: find_duplicates' file read with pyarrow, or a frame."""
    if isinstance(groups, pd.DataFrame):
        return pa.Table.from_pandas(groups[["id", "group_id"]], preserve_index=False)
    return groups


def load_members(
    catalog_dir: str | Path, groups: pa.Table | pd.DataFrame, columns: list[str]
) -> pa.Table:
    """Attributes of the group members only, read from the partition files with a filter, as
    one Arrow table in the order of ``groups`` (id, group_id) with its columns first.

    Kept in Arrow (about 60 bytes a member): pandas objects cost 0.7 KB a member, which made
    resolution the job that grew with the catalog (1.27 GiB at 20M rows)."""
    wanted = list(dict.fromkeys(["id", *columns, HEALPIX]))
    groups = _groups_table(groups)
    ids = as_arrow_strings(groups["id"])
    if len(ids) == 0:
        return pa.table({"id": ids, "group_id": pa.array([], pa.int64())})
    dataset = pads.dataset([str(p) for p in partition_files(catalog_dir)], format="parquet")
    table = dataset.to_table(columns=wanted, filter=pc.field("id").isin(ids))
    # Arrow's hash lookup instead of a pandas merge on string keys (2.5 s -> 0.2 s for 1M
    # members); the groups' order is kept.
    found = pc.index_in(ids, value_set=table.column("id").cast(pa.string()))
    if pc.any(pc.is_null(found)).as_py():
        missing = pc.filter(ids, pc.is_null(found))[:5].to_pylist()
        raise PipelineError(f"group members not found in {catalog_dir}: {missing}")
    if table.num_rows != len(ids):
        raise PipelineError(f"duplicate ids in {catalog_dir} among the group members")
    attrs = table.take(found).drop_columns(["id"])
    out = pa.table({"id": ids, "group_id": groups["group_id"].cast(pa.int64())})
    for name in attrs.column_names:
        out = out.append_column(name, attrs[name])
    return out


def empty_resolution() -> pd.DataFrame:
    """The resolution table of a run without any duplicate (every column, no row)."""
    return pd.DataFrame(
        {
            "id": pd.Series(dtype="string"),
            "group_id": pd.Series(dtype="int64"),
            "n_members": pd.Series(dtype="int32"),
            "tie_result": pd.Series(dtype="int8"),
            "tie_reason": pd.Series(dtype="string"),
            "compared_to": pd.Series(dtype="string"),
            "group_surveys": pd.Series(dtype="string"),
            "survey": pd.Series(dtype="string"),
            "catalog": pd.Series(dtype="string"),
            "z": pd.Series(dtype="float64"),
            HEALPIX: pd.Series(dtype="int64"),
            "keep": pd.Series(dtype="bool"),
        }
    )


CHUNK_MEMBERS = 250_000  # members decided at a time (whole groups): bounded memory


def resolve_duplicates(
    catalog_dir: str | Path,
    groups: pa.Table | pd.DataFrame,
    settings: ResolutionSettings | dict[str, Any],
    chunk_members: int = CHUNK_MEMBERS,
) -> Iterator[pd.DataFrame]:
    """The resolution table of the group members (see :func:`resolve_groups`) with ``keep``,
    in chunks of whole groups (about ``chunk_members`` rows each), in group order: concatenated,
    the chunks are the table resolved at once (groups are independent; draw_one draws from one
    generator across chunks)."""
    settings = ResolutionSettings.coerce(settings)
    needed = [
        "z",
        "z_flag_homogenized",
        "survey",
        "catalog",
        *[c["column"] for c in settings.criteria],
    ]
    groups = _groups_table(groups)
    group_ids = groups["group_id"].to_numpy()
    if len(group_ids) and (np.diff(group_ids) < 0).any():  # find_duplicates writes them sorted
        groups = groups.take(pc.sort_indices(groups, sort_keys=[("group_id", "ascending")]))
    members = load_members(catalog_dir, groups, needed)
    if members.num_rows == 0:
        yield empty_resolution()
        return
    rng = np.random.default_rng(settings.seed)
    for start, stop in group_chunks(members["group_id"].to_numpy(), chunk_members):
        table = resolve_groups(
            members.slice(start, stop - start).to_pandas(),
            settings.criteria,
            survey_priority=settings.survey_priority,
            catalog_priority=settings.catalog_priority,
            delta_z=settings.delta_z,
        )
        yield apply_mode(table, settings.mode, settings.ties, settings.seed, rng=rng)


def group_chunks(group_ids: np.ndarray, size: int) -> Iterator[tuple[int, int]]:
    """[start, stop) row ranges of about ``size`` rows that never cut a group (``group_ids``
    sorted)."""
    start, n = 0, len(group_ids)
    while start < n:
        stop = min(start + size, n)
        if stop < n:  # move the cut to the end of the group it falls in
            stop = int(np.searchsorted(group_ids, group_ids[stop - 1], side="right"))
        yield start, stop
        start = stop
