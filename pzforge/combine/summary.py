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


def render_summary(summary: dict[str, Any]) -> str:
    """Plain-text summary (same numbers as the JSON)."""
    lines = [
        f"Combine Redshift Catalogs - mode {summary['mode']}"
        + (f", ties {summary['ties']}" if summary.get("ties") else "")
        + (
            f", output cut z_flag_homogenized {summary['z_flag_min']}-4"
            if summary.get("z_flag_min") is not None
            else ""
        )
    ]
    lines.append("")
    lines.append(f"{'catalog':<20} {'rows in':>10} {'valid':>10}  dropped (reason: rows)")
    for name, c in sorted(summary["catalogs"].items()):
        dropped = "; ".join(f"{r}: {n}" for r, n in c["dropped"].items()) or "-"
        lines.append(f"{name:<20} {c['rows_in']:>10} {c['rows_out']:>10}  {dropped}")
        if c.get("z_err_nulled"):
            lines.append(f"{'':<20} {'':>10} {'':>10}  z_err set to null: {c['z_err_nulled']}")
        if c.get("kept_without_redshift"):
            lines.append(
                f"{'':<20} {'':>10} {'':>10}  kept without redshift: "
                + "; ".join(f"{r}: {n}" for r, n in c["kept_without_redshift"].items())
            )
    lines.append(f"{'total':<20} {summary['rows_in']:>10} {summary['rows_valid']:>10}")
    lines.append("")
    dup = summary.get("duplicates")
    if dup is not None:
        lines.append(
            f"duplicates: {dup['pairs']} pairs, {dup['groups']} groups, {dup['rows_in_groups']} rows "
            f"in groups, largest group {dup['largest_group']}"
        )
        lines.append("")
        head = (
            f"{'survey':<16} {'valid':>7} {'no dup':>7} {'star':>6} {'kept':>6} {'discarded':>10}"
            f" {'unresolved':>11} {'grp star':>9} {'no z':>6} {'in output':>10}"
        )
        lines.append(head)
        for survey, r in summary["per_survey"].items():
            lines.append(
                f"{survey:<16} {r['rows_valid']:>7} {r['without_duplicate']:>7} "
                f"{r['isolated_star']:>6} {r['in_groups_kept']:>6} {r['in_groups_discarded']:>10} "
                f"{r['in_groups_unresolved']:>11} {r['in_groups_star']:>9} "
                f"{r['without_redshift']:>6} {r['in_output']:>10}"
            )
        lines.append("")
        lines.append(
            "tie_reason: "
            + ", ".join(f"{k} {v}" for k, v in (summary.get("tie_reasons") or {}).items())
        )
    else:
        lines.append("no duplicate search (mode concatenate)")
        lines.append("")
        lines.append(f"{'survey':<16} {'valid':>7} {'no z':>6} {'in output':>10}")
        for survey, r in summary["per_survey"].items():
            lines.append(
                f"{survey:<16} {r['rows_valid']:>7} {r['without_redshift']:>6} {r['in_output']:>10}"
            )
    lines.append("")
    lines.append(f"rows out: {summary['rows_out']}")
    lines.append("outputs:")
    lines += [f"  {Path(p)}" for p in summary["outputs"]]
    return "\n".join(lines) + "\n"
