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
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from pzforge.combine import resolve
from pzforge.io import read_json
from pzforge.tables import Block, Lines, Table, render_text
from pzforge.tiles.partition import catalog_paths, partition_files

TIE_NAMES = {0: "discarded", 1: "kept", 2: "unresolved", 3: "star"}


def read_valid_rows(catalog_dir: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """Columns of every valid input row (the partitioned catalog, before resolution)."""
    files = [str(p) for p in partition_files(catalog_dir)]
    if not files:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pads.dataset(files, format="parquet").to_table(columns=list(columns)).to_pandas()


def survey_pair_counts(pairs: pd.DataFrame, resolution: pd.DataFrame) -> pd.DataFrame:
    """Duplicate pairs per (survey_a, survey_b) with survey_a <= survey_b; columns survey_a,
    survey_b, pairs. Pairs whose ends are in one survey are repeats inside that survey."""
    survey = dict(zip(resolution["id"].astype(str), resolution["survey"].astype(str), strict=True))
    a = pairs["id_a"].astype(str).map(survey)
    b = pairs["id_b"].astype(str).map(survey)
    lo = np.where(a <= b, a, b)
    hi = np.where(a <= b, b, a)
    counts = pd.DataFrame({"survey_a": lo, "survey_b": hi}).value_counts().rename("pairs")
    return counts.reset_index().sort_values(["survey_a", "survey_b"], ignore_index=True)


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
    combined = pq.read_table(combined_parquet, columns=["survey"]).to_pandas()
    catalog_dir, _margin = catalog_paths(partitioned)
    valid = read_valid_rows(catalog_dir, ["survey", "z", "z_flag_homogenized"])
    summary: dict[str, Any] = {
        "mode": mode,
        "ties": ties if mode == "remove" else None,
        "z_flag_min": z_flag_min,
        "catalogs": catalogs,
        "rows_in": sum(c["rows_in"] for c in catalogs.values()),
        "rows_valid": sum(c["rows_out"] for c in catalogs.values()),
        "rows_without_redshift": int(valid["z"].isna().sum()),
        "rows_out": len(combined),
        "partition": read_json(Path(partitioned) / "partition.json"),
        "outputs": list(outputs),
    }
    out_counts = combined["survey"].value_counts()
    if mode == "concatenate" or not resolution_files:
        summary["duplicates"] = None
        summary["tie_reasons"] = None
        summary["per_survey"] = {
            str(s): {
                "rows_valid": int(n),
                "without_redshift": int(valid.loc[valid["survey"] == s, "z"].isna().sum()),
                "in_output": int(out_counts.get(s, 0)),
            }
            for s, n in valid["survey"].value_counts().sort_index().items()
        }
        return summary
    resolution = pd.read_parquet(resolution_files[0])
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
    """The tie_reason counts, and per survey over all valid rows: without duplicate, isolated
    stars, group members by tie_result, rows without redshift, rows in the output.

    Rows without a duplicate are all rows minus group members (no id lookup: the summary reads
    three columns of the valid rows)."""
    surveys = valid["survey"].astype(str)
    star = (valid["z_flag_homogenized"].astype("float64") == resolve.STAR_FLAG).to_numpy()
    rows = surveys.value_counts()
    stars = surveys[star].value_counts()
    no_z = surveys[valid["z"].isna().to_numpy()].value_counts()
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
