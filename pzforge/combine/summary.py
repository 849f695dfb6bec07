"""Run summary: one dict (written as JSON) and its readable rendering with the same numbers.

Every valid input row is accounted for: per survey, rows without a duplicate, stars, rows in
groups by tie_result, rows kept without a redshift, and rows in the output; plus the tie_reason
distribution and the duplicate pairs per survey pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from pzforge.combine import resolve
from pzforge.errors import PipelineError
from pzforge.io import read_json
from pzforge.strings import as_arrow_strings
from pzforge.tables import Block, Lines, Table, render_text
from pzforge.tiles.partition import catalog_paths, partition_files

TIE_NAMES = {0: "discarded", 1: "kept", 2: "unresolved", 3: "star"}


def read_valid_rows(catalog_dir: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """Columns of every valid input row (the partitioned catalog, before resolution)."""
    files = [str(p) for p in partition_files(catalog_dir)]
    if not files:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pads.dataset(files, format="parquet").to_table(columns=list(columns)).to_pandas()


def valid_counts(catalog_dir: str | Path) -> pd.DataFrame:
    """Per survey (sorted by name): valid rows, stars and rows without a redshift, counted
    partition by partition so that the catalog is never held whole (flat memory at any size:
    reading the three columns of 20M rows at once cost the summary job a GiB)."""
    parts = []
    for path in partition_files(catalog_dir):
        df = pq.read_table(path, columns=["survey", "z", "z_flag_homogenized"]).to_pandas()
        star = (df["z_flag_homogenized"].astype("float64") == resolve.STAR_FLAG).to_numpy()
        flags = pd.DataFrame({"rows": 1, "stars": star, "no_z": df["z"].isna().to_numpy()})
        parts.append(flags.groupby(df["survey"].astype(str).to_numpy()).sum())
    if not parts:
        return pd.DataFrame({"rows": [], "stars": [], "no_z": []}, dtype=np.int64)
    return pd.concat(parts).groupby(level=0).sum().astype(np.int64).sort_index()


def value_counts(parquet: str | Path, column: str) -> pd.Series:
    """Rows per value of ``column`` in a Parquet file, read a row group at a time."""
    counts: dict[str, int] = {}
    for batch in pq.ParquetFile(parquet).iter_batches(columns=[column], batch_size=1 << 18):
        for item in pc.value_counts(batch.column(0)).to_pylist():
            key = str(item["values"])
            counts[key] = counts.get(key, 0) + item["counts"]
    return pd.Series(counts, dtype=np.int64).sort_index()


def pair_member_rows(pairs: pd.DataFrame, ids: Any) -> tuple[np.ndarray, np.ndarray]:
    """The row in ``ids`` (the resolution's member ids) of each pair's two ends.

    Arrow's hash lookup: Python dicts keyed by millions of ids cost the summary and QA jobs
    GiBs and minutes at 20M rows. Every pair end is a group member, or the tables disagree.
    """
    ids = as_arrow_strings(ids)
    ends = []
    for column in ("id_a", "id_b"):
        found = pc.index_in(as_arrow_strings(pairs[column]), value_set=ids)
        if found.null_count:
            missing = pc.filter(pairs[column].to_numpy(), pc.is_null(found))[:3].to_pylist()
            raise PipelineError(f"duplicate pairs name ids that are in no group: {missing}")
        ends.append(found.to_numpy(zero_copy_only=False).astype(np.int64))
    return ends[0], ends[1]


def survey_codes(surveys: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's survey as a code into the sorted survey names (as ``astype(str)`` spells them)."""
    codes, uniques = pd.factorize(surveys, sort=True)
    names = [str(u) for u in uniques]
    if (codes < 0).any():  # a missing survey: spelled as astype(str) would
        names.append(str(surveys[codes < 0].iloc[0]))
        codes = np.where(codes < 0, len(names) - 1, codes)
    order = np.argsort(np.array(names, dtype=object), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank[codes], [names[i] for i in order]


def survey_pair_counts(
    pairs: pd.DataFrame,
    resolution: pd.DataFrame,
    ends: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Duplicate pairs per (survey_a, survey_b) with survey_a <= survey_b; columns survey_a,
    survey_b, pairs. Pairs whose ends are in one survey are repeats inside that survey.
    ``ends``: :func:`pair_member_rows` when the caller has them already."""
    ia, ib = pair_member_rows(pairs, resolution["id"]) if ends is None else ends
    codes, names = survey_codes(resolution["survey"])
    a, b = codes[ia], codes[ib]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys, counts = np.unique(lo * len(names) + hi, return_counts=True)
    return pd.DataFrame(
        {
            "survey_a": [names[k // len(names)] for k in keys],
            "survey_b": [names[k % len(names)] for k in keys],
            "pairs": counts.astype(np.int64),
        }
    )


def build_summary(
    *,
    stats_files: Sequence[str],
    partitioned: str,
    duplicate_files: Sequence[str],
    resolution_files: Sequence[str],
    combined_parquet: str,
    mode: str,
    ties: str,
    outputs: Sequence[str],
    z_flag_min: int | None = None,
) -> dict[str, Any]:
    catalogs = {}
    for path in stats_files:
        stats = read_json(path)
        catalogs[stats["catalog"]] = stats
    out_counts = value_counts(combined_parquet, "survey")
    catalog_dir, _margin = catalog_paths(partitioned)
    valid = valid_counts(catalog_dir)
    summary: dict[str, Any] = {
        "mode": mode,
        "ties": ties if mode == "remove" else None,
        "z_flag_min": z_flag_min,
        "catalogs": catalogs,
        "rows_in": sum(c["rows_in"] for c in catalogs.values()),
        "rows_valid": sum(c["rows_out"] for c in catalogs.values()),
        "rows_without_redshift": int(valid["no_z"].sum()),
        "rows_out": int(out_counts.sum()),
        "partition": read_json(Path(partitioned) / "partition.json"),
        "outputs": list(outputs),
    }
    if mode == "concatenate" or not resolution_files:
        summary["duplicates"] = None
        summary["tie_reasons"] = None
        summary["per_survey"] = {
            str(s): {
                "rows_valid": int(row.rows),
                "without_redshift": int(row.no_z),
                "in_output": int(out_counts.get(s, 0)),
            }
            for s, row in valid.iterrows()
        }
        return summary
    resolution = pd.read_parquet(
        resolution_files[0], columns=["id", "group_id", "survey", "tie_result", "tie_reason"]
    )
    pairs = pd.read_parquet(duplicate_files[0]) if duplicate_files else None
    sizes = resolution.groupby("group_id").size()
    summary["duplicates"] = {
        "pairs": 0 if pairs is None else len(pairs),
        "groups": int(len(sizes)),
        "rows_in_groups": int(len(resolution)),
        "largest_group": int(sizes.max()) if len(sizes) else 0,
        "group_sizes": {str(k): int(v) for k, v in sizes.value_counts().sort_index().items()},
        "survey_pairs": []
        if pairs is None or len(pairs) == 0
        else survey_pair_counts(pairs, resolution).to_dict(orient="records"),
    }
    summary["tie_reasons"], summary["per_survey"] = _per_survey(valid, resolution, out_counts)
    return summary


def _per_survey(
    valid: pd.DataFrame, resolution: pd.DataFrame, out_counts: pd.Series
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """The tie_reason counts, and per survey over all valid rows (``valid``: counts per survey,
    :func:`valid_counts`): without duplicate, isolated stars, group members by tie_result,
    rows without redshift, rows in the output.

    Rows without a duplicate are all rows minus group members (no id lookup)."""
    rows, stars, no_z = valid["rows"], valid["stars"], valid["no_z"]
    members = resolution.groupby([resolution["survey"].astype(str), "tie_result"]).size()
    in_groups = resolution["survey"].astype(str).value_counts()
    out: dict[str, dict[str, int]] = {}
    for survey in sorted(rows.index):
        isolated_star = int(stars.get(survey, 0)) - int(members.get((survey, resolve.STAR), 0))
        row = {
            "rows_valid": int(rows[survey]),
            "without_duplicate": int(rows[survey]) - int(in_groups.get(survey, 0)) - isolated_star,
            "isolated_star": isolated_star,
        }
        for code, name in TIE_NAMES.items():
            row[f"in_groups_{name}"] = int(members.get((survey, code), 0))
        row["without_redshift"] = int(no_z.get(survey, 0))
        row["in_output"] = int(out_counts.get(survey, 0))
        out[survey] = row
    reasons = resolution["tie_reason"].astype(str).value_counts().to_dict()
    singles = {
        resolve.UNIQUE: sum(r["without_duplicate"] for r in out.values()),
        resolve.REASON_STAR: sum(r["isolated_star"] for r in out.values()),
    }
    for reason, n in singles.items():
        reasons[reason] = reasons.get(reason, 0) + n
    return {str(k): int(v) for k, v in sorted(reasons.items()) if v}, out


SURVEY_COLUMNS = (  # (heading, key in the per-survey counts)
    ("valid", "rows_valid"),
    ("no dup", "without_duplicate"),
    ("star", "isolated_star"),
    ("kept", "in_groups_kept"),
    ("discarded", "in_groups_discarded"),
    ("unresolved", "in_groups_unresolved"),
    ("grp star", "in_groups_star"),
    ("no z", "without_redshift"),
    ("in output", "in_output"),
)


def summary_tables(summary: dict[str, Any]) -> list[Block]:
    """The summary as tables (printed by ``pzforge run``, shown in the provenance report)."""
    head = f"Combine Redshift Catalogs - mode {summary['mode']}"
    if summary.get("ties"):
        head += f", ties {summary['ties']}"
    if summary.get("z_flag_min") is not None:
        head += f", output cut z_flag_homogenized {summary['z_flag_min']}-4"
    blocks: list[Block] = [Lines([head])]
    rows: list[list[Any]] = []
    for name, c in sorted(summary["catalogs"].items()):
        reasons = [(n, r) for r, n in c["dropped"].items()]
        if c.get("z_err_nulled"):
            reasons.append(("", f"kept, z_err set to null: {c['z_err_nulled']}"))
        for r, n in (c.get("kept_without_redshift") or {}).items():
            reasons.append(("", f"kept without redshift ({r}): {n}"))
        first = [name, c["rows_in"], c["rows_out"]]
        for i, (n, reason) in enumerate(reasons or [(0, "")]):
            rows.append([*(first if i == 0 else ["", "", ""]), n, reason])
    rows.append(["total", summary["rows_in"], summary["rows_valid"], "", ""])
    blocks.append(
        Table(["catalog", "rows in", "valid", "dropped", "because"], rows, "rows per catalog")
    )
    dup = summary.get("duplicates")
    if dup is not None:
        blocks.append(
            Lines(
                [
                    f"duplicates: {dup['pairs']} pairs, {dup['groups']} groups, "
                    f"{dup['rows_in_groups']} rows in groups, largest group {dup['largest_group']}"
                ]
            )
        )
        columns = SURVEY_COLUMNS
        title = "per survey (no dup: no duplicate; kept, discarded, unresolved: in groups)"
    else:
        blocks.append(Lines(["no duplicate search (mode concatenate)"]))
        columns = (SURVEY_COLUMNS[0], SURVEY_COLUMNS[-2], SURVEY_COLUMNS[-1])
        title = "per survey"
    blocks.append(
        Table(
            ["survey", *(h for h, _ in columns)],
            [[s, *(r[k] for _, k in columns)] for s, r in summary["per_survey"].items()],
            title,
        )
    )
    if summary.get("tie_reasons"):
        blocks.append(
            Table(
                ["tie_reason", "rows"],
                [[k, v] for k, v in summary["tie_reasons"].items()],
                "what decided each row",
            )
        )
    blocks.append(Lines([f"rows out: {summary['rows_out']}"]))
    blocks.append(Lines([f"  {Path(p)}" for p in summary["outputs"]], "outputs:"))
    return blocks


def render_summary(summary: dict[str, Any]) -> str:
    """Plain-text summary (same numbers as the JSON), no line broken inside a value."""
    return render_text(summary_tables(summary))
