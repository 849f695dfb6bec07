"""The QA report of a Combine Redshift Catalogs run: numbers (qa/qa.json), PNGs and one page.

Next to ``summary.json``: ``qa.html`` (self-contained: the PNGs are embedded, so the page can be
registered and opened anywhere, offline) and ``qa/`` with the PNGs and ``qa.json``:

- ``sky.png``: inputs by survey, and the members of duplicate groups, on an all-sky map;
  ``sky_fields.png``: the densest fields zoomed (deep fields are dots on an all-sky map);
- ``redshift_per_survey.png``: redshift histograms, one panel per survey;
- ``duplicate_pairs.png``: separations and |dz| of duplicate pairs;
- ``survey_pairs.png``: for each survey (row), the share of its rows with a duplicate in each
  survey (column); the diagonal is repeats inside one survey; numbers are rows;
- ``per_survey.png``: per-survey counts by outcome; ``tie_reasons.png``: the tie_reason counts;
- residual close pairs after ``remove``: pairs within the radius whose two rows both survive
  remove mode (with the configured ties policy); expected 0 except between unresolved rows.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pzforge.combine import resolve
from pzforge.combine.qa_scan import MemberIndex, QARows, scan_rows, scan_settings, subsample
from pzforge.combine.summary import pair_member_rows, survey_codes, survey_pair_counts
from pzforge.io import atomic_path, write_json, write_text
from pzforge.strings import as_arrow_strings
from pzforge.tiles.partition import HEALPIX

PairEnds = tuple[np.ndarray, np.ndarray]  # each pair's two ends as rows of the member table

MAX_SURVEYS_SHOWN = 40


def read_members(resolution_file: str | Path | None) -> pd.DataFrame:
    """The resolution columns the QA report needs; ids and surveys as Arrow-backed strings
    (no Python object per member: 2M members at 20M rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = ["id", "survey", "z", "tie_result", "group_id", HEALPIX]
    if not resolution_file:
        return resolve.empty_resolution()[columns]
    strings = pd.ArrowDtype(pa.string())
    mapper = {pa.string(): strings, pa.large_string(): strings}.get
    return pq.read_table(resolution_file, columns=columns).to_pandas(types_mapper=mapper)


def residual_pairs(
    ends: PairEnds, resolution: pd.DataFrame, ties: str, seed: int
) -> dict[str, int]:
    """Pairs within the radius whose two rows both survive remove mode, by kind."""
    a, b = ends
    if len(a) == 0 or len(resolution) == 0:
        return {"total": 0, "both_unresolved": 0, "other": 0}
    removed = resolve.apply_mode(resolution[["group_id", "tie_result"]], "remove", ties, seed)
    keep = removed["keep"].to_numpy(bool)
    tie = removed["tie_result"].to_numpy()
    both = keep[a] & keep[b]
    unresolved = (tie[a] == resolve.UNRESOLVED) & (tie[b] == resolve.UNRESOLVED)
    return {
        "total": int(both.sum()),
        "both_unresolved": int((both & unresolved).sum()),
        "other": int((both & ~unresolved).sum()),
    }


def survey_pair_rates(
    ends: PairEnds, members: pd.DataFrame, totals: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of survey i (index) with at least one duplicate in survey j (columns): counts and
    shares of survey i's valid rows."""
    surveys = list(totals.index)
    counts = pd.DataFrame(0, index=surveys, columns=surveys, dtype=np.int64)
    a, b = ends
    if len(a):
        codes, names = survey_codes(members["survey"])
        ends_table = pd.DataFrame(  # (member row, its survey, the other end's survey)
            {
                "row": np.concatenate([a, b]),
                "own": np.concatenate([codes[a], codes[b]]),
                "other": np.concatenate([codes[b], codes[a]]),
            }
        ).drop_duplicates()
        found = ends_table.groupby(["own", "other"]).size()
        for (own, other), n in found.items():
            counts.loc[names[own], names[other]] = int(n)
    shares = counts.div(totals.reindex(surveys).replace(0, np.nan), axis=0).fillna(0.0)
    return counts, shares


def build_qa(
    *,
    partitioned: str | Path,
    pairs_file: str | Path | None,
    resolution_file: str | Path | None,
    summary_file: str | Path,
    settings: dict[str, Any],
    out_html: str | Path,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Compute the QA numbers, draw the PNGs and write the page; returns the numbers."""
    from pzforge.io import read_json
    from pzforge.tiles.partition import catalog_paths

    catalog_dir, _margin = catalog_paths(partitioned)
    summary = read_json(summary_file)
    pairs = pd.read_parquet(pairs_file) if pairs_file else _no_pairs()
    members = read_members(resolution_file)
    ends = pair_member_rows(pairs, members["id"]) if len(pairs) else (np.zeros(0, int),) * 2
    # partitions are read in sky order: the same rows, in the same order, every run
    index = MemberIndex(as_arrow_strings(members["id"]), members[HEALPIX].to_numpy(np.int64))
    rows = scan_rows(catalog_dir, index, scan_settings(settings))
    totals = rows.totals
    pair_info = _pair_table(pairs, ends, members)
    counts, shares = survey_pair_rates(ends, members, totals)
    residual = residual_pairs(ends, members, settings["ties"], settings["seed"])
    groups = int(members["group_id"].nunique())
    numbers = {
        "rows_valid": rows.rows,
        "pairs": len(pairs),
        "groups": groups,
        "tie_reasons": summary.get("tie_reasons"),
        "residual_pairs_after_remove": residual,
        "pairs_within_delta_z": int((pair_info["dz"] <= settings["delta_z"] + 1e-12).sum()),
        "pairs_dz_over_0.15_1pz": int((pair_info["dz_1pz"] > 0.15).sum()),
        "survey_pair_pairs": _pair_matrix(pairs, ends, members),
        "survey_pair_rows": {
            i: {j: int(v) for j, v in r.items() if v} for i, r in counts.iterrows()
        },
        "per_survey": summary.get("per_survey"),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "sky.png": ("Sky: inputs and duplicates", _plot_sky(rows, len(members), groups)),
        "sky_fields.png": ("Dense fields", _plot_fields(rows, scan_settings(settings))),
        "redshift_per_survey.png": ("Redshift per survey", _plot_z_hist(rows)),
        "duplicate_pairs.png": ("Duplicate pairs", _plot_pairs(pair_info, settings)),
        "survey_pairs.png": ("Duplicates per survey pair", _plot_matrix(counts, shares)),
        "per_survey.png": ("Outcome per survey", _plot_per_survey(summary)),
        "tie_reasons.png": ("tie_reason", _plot_tie_reasons(summary)),
    }
    for name, (_title, fig) in figures.items():
        _save(fig, out_dir / name)
    write_json(numbers, out_dir / "qa.json")
    write_text(_page(numbers, summary, settings, figures, out_dir, counts, shares), out_html)
    return numbers


def _no_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {"id_a": pd.Series(dtype="string"), "id_b": pd.Series(dtype="string"), "sep_arcsec": []}
    )


def _pair_table(pairs: pd.DataFrame, ends: PairEnds, members: pd.DataFrame) -> pd.DataFrame:
    z = members["z"].to_numpy(dtype=np.float64, na_value=np.nan)
    za, zb = z[ends[0]], z[ends[1]]
    dz = np.abs(za - zb)
    return pd.DataFrame(
        {
            "sep": pairs["sep_arcsec"].to_numpy(float),
            "dz": dz,
            "dz_1pz": dz / (1 + np.fmin(za, zb)),
        }
    )


def _pair_matrix(pairs: pd.DataFrame, ends: PairEnds, members: pd.DataFrame) -> dict:
    if len(pairs) == 0:
        return {}
    table = survey_pair_counts(pairs, members, ends)
    out: dict[str, dict[str, int]] = {}
    for a, b, n in table.itertuples(index=False):
        out.setdefault(a, {})[b] = int(n)
    return out


# --- plots ---------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 110})
    return plt


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)


def _survey_colours(surveys: list[str]) -> dict[str, Any]:
    """One colour per survey: tab20's strong colours first, then its light ones."""
    plt = _plt()
    cmap = plt.get_cmap("tab20")
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return {s: cmap(order[i % 20]) for i, s in enumerate(sorted(surveys))}


def _mollweide_xy(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mollweide axes take longitude in [-pi, pi]; RA grows to the left as on the sky."""
    lon = np.radians(np.remainder(ra, 360.0) - 180.0)  # RA 180 at the centre
    return -lon, np.radians(dec)


def _plot_sky(rows: QARows, n_members: int, n_groups: int) -> Any:
    plt = _plt()
    fig = plt.figure(figsize=(12, 10.5))
    colours = _survey_colours(list(rows.totals.index))
    ax = fig.add_subplot(2, 1, 1, projection="mollweide")
    sample = rows.sample
    for survey, part in sample.groupby(sample["survey"].astype(str), sort=True):
        x, y = _mollweide_xy(part["ra"].to_numpy(float), part["dec"].to_numpy(float))
        n = int(rows.totals.get(survey, 0))
        ax.scatter(x, y, s=4, color=colours[survey], label=f"{survey} ({n})", linewidths=0)
    ax.set_title(f"Valid input rows by survey ({rows.rows} rows)")
    _sky_axes(ax)
    ax.legend(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, markerscale=3, frameon=False
    )
    ax2 = fig.add_subplot(2, 1, 2, projection="mollweide")
    x, y = _mollweide_xy(sample["ra"].to_numpy(float), sample["dec"].to_numpy(float))
    ax2.scatter(x, y, s=2, color="0.8", linewidths=0, label="no duplicate")
    dup = rows.member_sample
    x, y = _mollweide_xy(dup["ra"].to_numpy(float), dup["dec"].to_numpy(float))
    ax2.scatter(
        x, y, s=6, color="crimson", linewidths=0, label=f"in a duplicate group ({n_members})"
    )
    ax2.set_title(f"Duplicate group members ({n_groups} groups)")
    _sky_axes(ax2)
    ax2.legend(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, markerscale=3, frameon=False
    )
    return fig


def _plot_fields(rows: QARows, limit: int) -> Any:
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    fields = rows.fields
    ncol = min(3, max(len(fields), 1))
    nrow = int(np.ceil(max(len(fields), 1) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 4.8 * nrow), squeeze=False)
    if not fields:
        axes[0, 0].text(0.5, 0.5, "no dense field", ha="center", va="center")
        axes[0, 0].set_axis_off()
        return fig
    colours = _survey_colours(list(rows.totals.index))
    for ax in axes.flat[len(fields) :]:
        ax.set_visible(False)
    for ax, field in zip(axes.flat, fields, strict=False):
        box = field.table
        member = box["member"].to_numpy(dtype=bool)
        ra, dec = box["ra"].to_numpy(float), box["dec"].to_numpy(float)
        idx = subsample(len(box), limit)
        part = box.iloc[idx]
        for survey, sub in part.groupby(part["survey"].astype(str), sort=True):
            ax.scatter(
                sub["ra"], sub["dec"], s=5, color=colours[survey], label=survey, linewidths=0
            )
        dup = idx[member[idx]]
        ax.scatter(
            ra[dup],
            dec[dup],
            s=22,
            facecolors="none",
            edgecolors="black",
            linewidths=0.6,
            label="in a duplicate group",
        )
        ax.set_xlim(field.ra[1], field.ra[0])  # RA grows to the left
        ax.set_ylim(*field.dec)
        ax.set_aspect(1 / max(np.cos(np.radians(np.mean(field.dec))), 0.05))
        ax.set_title(
            f"RA {np.mean(field.ra):.2f}, Dec {np.mean(field.dec):.2f}: "
            f"{len(box)} rows, {int(member.sum())} in groups",
            fontsize=9,
        )
        ax.set_xlabel("RA (deg)", fontsize=8)
        ax.set_ylabel("Dec (deg)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.legend(fontsize=6, markerscale=1.5, loc="best", framealpha=0.7)
    fig.suptitle(
        "The densest fields (1-degree cells), zoomed; black rings: duplicate group members"
    )
    fig.tight_layout()
    return fig


def _sky_axes(ax: Any) -> None:
    ax.grid(True, color="0.85", linewidth=0.5)
    ticks = np.radians([-150, -120, -90, -60, -30, 0, 30, 60, 90, 120, 150])
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{int(v)}°" for v in np.remainder(-np.degrees(ticks) + 180, 360) - 0])
    ax.tick_params(axis="x", labelsize=7, colors="0.4")
    ax.set_xlabel("RA (grows to the left)", fontsize=8)
    ax.set_ylabel("Dec", fontsize=8)


def _plot_z_hist(rows: QARows) -> Any:
    plt = _plt()
    surveys = list(rows.z)[:MAX_SURVEYS_SHOWN]
    n = max(len(surveys), 1)
    ncol = min(4, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.5 * nrow), squeeze=False)
    colours = _survey_colours(surveys)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, survey in zip(axes.flat, surveys, strict=False):
        z = rows.z[survey]
        if z.finite:  # counted partition by partition (qa_scan), drawn as one histogram
            edges = z.edges
            ax.hist(edges[:-1], bins=edges, weights=z.counts, color=colours[survey])
        ax.set_title(
            f"{survey}: {z.rows} rows" + (f", {z.no_z} without z" if z.no_z else ""), fontsize=9
        )
        ax.set_xlabel("z", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        "Redshift distribution per survey (valid rows; tail above the 99.5th percentile piled in the last bin)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _plot_pairs(info: pd.DataFrame, settings: dict[str, Any]) -> Any:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2))
    radius = float(settings["radius_arcsec"])
    if len(info):
        a1.hist(info["sep"], bins=40, range=(0, radius), color="steelblue")
    a1.set_xlabel("separation (arcsec)")
    a1.set_ylabel("pairs")
    a1.set_title(f'Separation of {len(info)} duplicate pairs (radius {radius:g}")')
    dz = info["dz"].to_numpy(float)
    dz = dz[np.isfinite(dz)]
    floor = 1e-5
    if len(dz):
        bins = np.logspace(np.log10(floor), 1.2, 50)
        a2.hist(np.clip(dz, floor, None), bins=bins, color="darkorange")
    a2.set_xscale("log")
    a2.axvline(
        settings["delta_z"], color="k", linestyle="--", label=f"delta_z = {settings['delta_z']:g}"
    )
    agree = int((dz <= settings["delta_z"] + 1e-12).sum())
    a2.set_title(f"|dz| of pairs: {agree} within delta_z, {len(dz) - agree} beyond")
    a2.set_xlabel(f"|z_a - z_b| (values below {floor:g} in the first bin)")
    a2.set_ylabel("pairs")
    a2.legend(frameon=False)
    fig.tight_layout()
    return fig


def _plot_matrix(counts: pd.DataFrame, shares: pd.DataFrame) -> Any:
    plt = _plt()
    keep = [s for s in counts.index if counts.loc[s].sum() or counts[s].sum()]
    keep = keep[:MAX_SURVEYS_SHOWN]
    n = max(len(keep), 1)
    fig, ax = plt.subplots(figsize=(1.1 + 0.62 * n + 2, 1.0 + 0.55 * n + 1))
    if not keep:
        ax.text(0.5, 0.5, "no duplicates", ha="center", va="center", fontsize=14)
        ax.set_axis_off()
        return fig
    share = shares.loc[keep, keep].to_numpy() * 100
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=max(share.max(), 1e-9))
    for i in range(len(keep)):
        for j in range(len(keep)):
            count = int(counts.loc[keep[i], keep[j]])
            if count:
                colour = "white" if share[i, j] > 0.6 * share.max() else "black"
                ax.text(
                    j,
                    i,
                    f"{count}\n{share[i, j]:.1f}%",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=colour,
                )
    ax.set_xticks(range(len(keep)), keep, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(keep)), keep, fontsize=8)
    ax.set_xlabel("has a duplicate in survey")
    ax.set_ylabel("rows of survey")
    ax.set_title(
        "Rows of each survey with a duplicate in another\n(count and % of the row survey's valid rows; diagonal: repeats inside a survey)",
        fontsize=10,
    )
    fig.colorbar(image, ax=ax, label="% of the row survey's rows", shrink=0.8)
    fig.tight_layout()
    return fig


OUTCOMES = [
    ("without_duplicate", "no duplicate", "0.75"),
    ("in_groups_kept", "kept (in a group)", "seagreen"),
    ("in_groups_discarded", "discarded duplicate", "indianred"),
    ("in_groups_unresolved", "unresolved tie", "orange"),
    ("star", "star (any)", "mediumpurple"),
]


def _plot_per_survey(summary: dict[str, Any]) -> Any:
    plt = _plt()
    per = pd.DataFrame(summary.get("per_survey") or {}).T
    height = 0.42 * max(len(per), 3) + 1.8
    if per.empty or "without_duplicate" not in per:
        fig, ax = plt.subplots(figsize=(10, height))
        ax.text(0.5, 0.5, "no duplicate search (mode concatenate)", ha="center", va="center")
        ax.set_axis_off()
        return fig
    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(14, height), sharey=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    per = per.sort_index(ascending=False)
    per["star"] = per["isolated_star"] + per["in_groups_star"]
    left = np.zeros(len(per))
    for col, label, colour in OUTCOMES:
        values = per[col].to_numpy(float)
        ax.barh(per.index, values, left=left, color=colour, label=label)
        left += values
    for y, (_survey, row) in enumerate(per.iterrows()):
        note = f"  {int(row['in_output'])} out"
        if row["without_redshift"]:
            note += f", {int(row['without_redshift'])} no z"
        ax.text(left[y], y, note, va="center", fontsize=7)
    ax.set_xlabel("valid rows")
    ax.set_xlim(0, left.max() * 1.22 if left.max() else 1)
    ax.set_title(f"Every valid row (mode {summary['mode']}; 'out' = rows in the output)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=5, fontsize=8, frameon=False)
    grouped = [
        ("in_groups_kept", "kept", "seagreen"),
        ("in_groups_discarded", "discarded", "indianred"),
        ("in_groups_unresolved", "unresolved", "orange"),
        ("in_groups_star", "star", "mediumpurple"),
    ]
    left = np.zeros(len(per))
    for col, label, colour in grouped:
        values = per[col].to_numpy(float)
        ax2.barh(per.index, values, left=left, color=colour, label=label)
        left += values
    for y, total in enumerate(left):
        if total:
            ax2.text(total, y, f" {int(total)}", va="center", fontsize=7)
    ax2.set_xlim(0, left.max() * 1.15 if left.max() else 1)
    ax2.set_xlabel("rows in duplicate groups")
    ax2.set_title("Rows in duplicate groups only, by tie_result")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _plot_tie_reasons(summary: dict[str, Any]) -> Any:
    plt = _plt()
    reasons = summary.get("tie_reasons") or {}
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(reasons), 3) + 1.2))
    if not reasons:
        ax.text(0.5, 0.5, "no tie_reason (mode concatenate)", ha="center", va="center")
        ax.set_axis_off()
        return fig
    items = sorted(reasons.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v for _, v in items], color="slategray")
    for y, (_k, v) in enumerate(items):
        ax.text(v, y, f" {v}", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("rows (log scale)")
    ax.set_title("Why each row got its tie_result")
    fig.tight_layout()
    return fig


# --- page ----------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(
    numbers: dict[str, Any],
    summary: dict[str, Any],
    settings: dict[str, Any],
    figures: dict[str, tuple[str, Any]],
    out_dir: Path,
    counts: pd.DataFrame,
    shares: pd.DataFrame,
) -> str:
    residual = numbers["residual_pairs_after_remove"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Combine Redshift Catalogs QA</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th{background:#eee}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}"
        ".ok{color:#176617}.bad{color:#a11}</style></head><body>",
        "<h1>Combine Redshift Catalogs: QA</h1>",
        f"<p>mode <b>{html.escape(str(summary['mode']))}</b>, ties "
        f"{html.escape(str(settings['ties']))}, radius {settings['radius_arcsec']:g} arcsec, "
        f"delta_z {settings['delta_z']:g}. {numbers['rows_valid']} valid rows, "
        f"{numbers['pairs']} duplicate pairs in {numbers['groups']} groups; "
        f"{summary['rows_out']} rows in the output.</p>",
        "<h2>Residual close pairs after remove</h2>",
        f"<p class='{'ok' if residual['other'] == 0 else 'bad'}'>Pairs within the radius whose two "
        f"rows both survive remove mode (ties {html.escape(str(settings['ties']))}): "
        f"<b>{residual['total']}</b> ({residual['both_unresolved']} between unresolved rows, "
        f"expected; {residual['other']} other, expected 0).</p>",
    ]
    if numbers["tie_reasons"]:
        parts.append("<h2>tie_reason</h2>")
        parts.append(_table(["tie_reason", "rows"], sorted(numbers["tie_reasons"].items())))
    surveys = [s for s in counts.index if counts.loc[s].sum()]
    if surveys:
        parts.append("<h2>Rows with a duplicate, per survey pair</h2>")
        parts.append(
            "<p>Row survey (left) x survey of the duplicate (top): rows, and % of the row "
            "survey's valid rows.</p>"
        )
        cols = [s for s in counts.columns if counts[s].sum()]
        parts.append(
            _table(
                ["", *cols],
                [
                    [
                        s,
                        *[
                            f"{counts.loc[s, c]} ({shares.loc[s, c] * 100:.1f}%)"
                            if counts.loc[s, c]
                            else ""
                            for c in cols
                        ],
                    ]
                    for s in surveys
                ],
            )
        )
    for name, (title, _fig) in figures.items():
        data = base64.b64encode((out_dir / name).read_bytes()).decode("ascii")
        parts.append(
            f"<h2>{html.escape(title)}</h2><img alt='{name}' src='data:image/png;base64,{data}'>"
        )
    parts.append(
        "<p>Numbers: qa/qa.json; summary: summary.json / summary.txt. The algorithm and every "
        "tie_result / tie_reason: docs/combine_redshift.md.</p></body></html>"
    )
    return "\n".join(parts) + "\n"
