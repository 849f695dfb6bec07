"""Run summary: one dict (written as JSON) and its readable rendering with the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from pzforge.io import read_json

TIE_NAMES = {0: "discarded", 1: "kept", 2: "unresolved", 3: "star"}


def build_summary(
    *,
    stats_files: Sequence[str],
    partition_file: str,
    duplicate_files: Sequence[str],
    resolution_files: Sequence[str],
    combined_parquet: str,
    mode: str,
    ties: str,
    outputs: Sequence[str],
) -> dict[str, Any]:
    catalogs = {}
    for path in stats_files:
        stats = read_json(path)
        catalogs[stats["catalog"]] = stats
    combined = pq.read_table(
        combined_parquet, columns=["survey", "group_id", "tie_result"]
    ).to_pandas()
    summary: dict[str, Any] = {
        "mode": mode,
        "ties": ties if mode == "remove" else None,
        "catalogs": catalogs,
        "rows_in": sum(c["rows_in"] for c in catalogs.values()),
        "rows_valid": sum(c["rows_out"] for c in catalogs.values()),
        "rows_out": len(combined),
        "partition": read_json(partition_file),
        "outputs": list(outputs),
    }
    if mode == "concatenate" or not resolution_files:
        summary["duplicates"] = None
        summary["per_survey"] = {
            str(s): {"rows_out": int(n)}
            for s, n in combined["survey"].value_counts().sort_index().items()
        }
        return summary
    pairs = pq.read_metadata(duplicate_files[0]).num_rows
    resolution = pd.read_parquet(resolution_files[0])
    sizes = resolution.groupby("group_id").size()
    summary["duplicates"] = {
        "pairs": int(pairs),
        "groups": int(len(sizes)),
        "rows_in_groups": int(len(resolution)),
        "largest_group": int(sizes.max()) if len(sizes) else 0,
        "group_sizes": {str(k): int(v) for k, v in sizes.value_counts().sort_index().items()},
    }
    summary["per_survey"] = _per_survey(combined, resolution)
    return summary


def _per_survey(combined: pd.DataFrame, resolution: pd.DataFrame) -> dict[str, dict[str, int]]:
    """kept / discarded / unresolved / star per survey, over all valid rows (not only output)."""
    out: dict[str, dict[str, int]] = {}
    singles = combined[combined["group_id"].isna()]["survey"].value_counts()
    members = resolution.groupby(["survey", "tie_result"]).size()
    kept_members = resolution[resolution["keep"]].groupby("survey").size()
    surveys = sorted(set(singles.index) | set(resolution["survey"].dropna()))
    for survey in surveys:
        row = {"without_duplicate": int(singles.get(survey, 0))}
        for code, name in TIE_NAMES.items():
            row[f"in_groups_{name}"] = int(members.get((survey, code), 0))
        row["in_output"] = row["without_duplicate"] + int(kept_members.get(survey, 0))
        out[str(survey)] = row
    return out


def render_summary(summary: dict[str, Any]) -> str:
    """Plain-text summary (same numbers as the JSON)."""
    lines = [
        f"Combine Redshift Catalogs - mode {summary['mode']}"
        + (f", ties {summary['ties']}" if summary.get("ties") else "")
    ]
    lines.append("")
    lines.append(f"{'catalog':<20} {'rows in':>10} {'valid':>10}  dropped (reason: rows)")
    for name, c in sorted(summary["catalogs"].items()):
        dropped = "; ".join(f"{r}: {n}" for r, n in c["dropped"].items()) or "-"
        lines.append(f"{name:<20} {c['rows_in']:>10} {c['rows_out']:>10}  {dropped}")
        if c.get("z_err_nulled"):
            lines.append(f"{'':<20} {'':>10} {'':>10}  z_err set to null: {c['z_err_nulled']}")
    lines.append(f"{'total':<20} {summary['rows_in']:>10} {summary['rows_valid']:>10}")
    lines.append("")
    dup = summary.get("duplicates")
    if dup:
        lines.append(
            f"duplicates: {dup['pairs']} pairs, {dup['groups']} groups, {dup['rows_in_groups']} rows "
            f"in groups, largest group {dup['largest_group']}"
        )
        lines.append("")
        head = f"{'survey':<14} {'no dup':>8} {'kept':>7} {'discarded':>10} {'unresolved':>11} {'star':>6} {'in output':>10}"
        lines.append(head)
        for survey, r in summary["per_survey"].items():
            lines.append(
                f"{survey:<14} {r['without_duplicate']:>8} {r['in_groups_kept']:>7} "
                f"{r['in_groups_discarded']:>10} {r['in_groups_unresolved']:>11} "
                f"{r['in_groups_star']:>6} {r['in_output']:>10}"
            )
    else:
        lines.append("no duplicate search (mode concatenate)")
    lines.append("")
    lines.append(f"rows out: {summary['rows_out']}")
    lines.append("outputs:")
    lines += [f"  {Path(p)}" for p in summary["outputs"]]
    return "\n".join(lines) + "\n"
