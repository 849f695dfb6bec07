"""Summary of a Training Set run: JSON figures, a readable Markdown page and PNG plots.

Definitions (docs/training_set.md):

- ``matched_fraction``: spectroscopic rows in the training set / valid reference rows;
- separation distribution: quantiles and a histogram of ``sep_arcsec`` over the training set;
- redshift distributions: histograms (same bins) of the matched and the unmatched reference rows
  (unmatched = valid reference rows not in the training set, many-to-one losers included);
- magnitude distributions: per band, finite values, quantiles and a histogram.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from pzforge.io import write_json, write_text
from pzforge.training_set.photometry import MAG_PREFIX, MAGERR_PREFIX

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_POINTS = 20_000  # points drawn in the colour-magnitude diagram


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {f"q{int(q * 100):02d}": None for q in QUANTILES}
    return {f"q{int(q * 100):02d}": float(np.quantile(values, q)) for q in QUANTILES}


def _histogram(values: np.ndarray, bins: np.ndarray) -> dict[str, list]:
    counts, edges = np.histogram(values[np.isfinite(values)], bins=bins)
    return {"edges": [round(float(e), 6) for e in edges], "counts": counts.astype(int).tolist()}


def _is_in(values: pd.Series, value_set: pd.Series) -> np.ndarray:
    """``values.isin(value_set)`` by Arrow's hash lookup: 0.15 s instead of pandas' 3 s for 1M
    string ids against 800k."""
    arr, lookup = pa.Array.from_pandas(values), pa.Array.from_pandas(value_set)
    if lookup.type != arr.type:  # e.g. an empty training set (null type)
        lookup = lookup.cast(arr.type)
    found = pc.is_in(arr, value_set=lookup)
    return found.to_numpy(zero_copy_only=False).astype(bool)


def read_reference_z(reference_dir: str | Path) -> pd.DataFrame:
    """Ids and redshifts of the valid reference rows (the ingested reference parts)."""
    dataset = pads.dataset(str(reference_dir), format="parquet")
    return dataset.to_table(columns=["id", "z"]).to_pandas()


def build_summary(
    *,
    table: pd.DataFrame,
    reference: pd.DataFrame,
    reference_stats: dict[str, Any],
    photometry_stats: dict[str, Any],
    partition: dict[str, Any],
    match_stats: dict[str, Any],
    radius_arcsec: float,
    outputs: list[str],
) -> dict[str, Any]:
    """The summary figures of a training set (``table``, all subsets) and its ``reference``
    (id, z of every valid reference row); the other arguments are the jobs' statistics."""
    ref_stats, phot_stats, stats, ref = reference_stats, photometry_stats, match_stats, reference
    matched_mask = _is_in(ref["id"], table["id"])
    z_all = ref["z"].to_numpy(dtype="float64")
    z_top = max(float(np.nanmax(z_all)) if len(z_all) else 1.0, 1e-3)
    z_bins = np.linspace(0.0, float(np.ceil(z_top * 10) / 10), 41)
    sep = table["sep_arcsec"].to_numpy(dtype="float64") if len(table) else np.array([])
    summary: dict[str, Any] = {
        "reference": ref_stats,
        "photometry": phot_stats,
        "partition": partition,
        "radius_arcsec": radius_arcsec,
        "reference_rows": int(len(ref)),
        "matched_before_many_to_one": stats["matched_reference_rows"],
        "many_to_one_dropped": stats["many_to_one_dropped"],
        "rows": int(len(table)),
        "matched_fraction": float(len(table) / len(ref)) if len(ref) else 0.0,
        "separation_arcsec": {
            **_quantiles(sep),
            "max": float(sep.max()) if len(sep) else None,
            "histogram": _histogram(sep, np.linspace(0.0, radius_arcsec, 21)),
        },
        "redshift": {
            "matched": {"n": int(matched_mask.sum()), **_quantiles(z_all[matched_mask])},
            "unmatched": {"n": int((~matched_mask).sum()), **_quantiles(z_all[~matched_mask])},
            "histogram_edges": [round(float(e), 6) for e in z_bins],
            "matched_counts": np.histogram(z_all[matched_mask], z_bins)[0].tolist(),
            "unmatched_counts": np.histogram(z_all[~matched_mask], z_bins)[0].tolist(),
        },
        "magnitudes": {},
        "photometry_counts": stats.get("photometry", {}),
        "subsets": stats.get("subsets"),
        "n_candidates_gt1": int((table["n_candidates"] > 1).sum()) if len(table) else 0,
        "outputs": outputs,
    }
    for col in [c for c in table.columns if c.startswith(MAG_PREFIX)]:
        values = table[col].to_numpy(dtype="float64", na_value=np.nan)
        finite = values[np.isfinite(values) & (np.abs(values) < 90)]
        band = col[len(MAG_PREFIX) :]
        summary["magnitudes"][band] = {
            "finite": int(len(finite)),
            **_quantiles(finite),
            "histogram": _histogram(finite, np.arange(10.0, 36.01, 0.5)),
        }
    return summary


def render_text(summary: dict[str, Any]) -> str:
    """Plain-text summary (printed by ``pzforge run``)."""
    ref, phot = summary["reference"], summary["photometry"]
    sep = summary["separation_arcsec"]
    lines = [
        "Training Set Maker",
        f"reference: {ref['rows_in']} rows in, {ref['rows_out']} valid (dropped {ref['dropped'] or 'none'})",
        f"photometry: {phot['rows_in']} rows in, {phot['rows_out']} valid (dropped {phot['dropped'] or 'none'})",
        f"matched within {summary['radius_arcsec']} arcsec: {summary['matched_before_many_to_one']} "
        f"spectroscopic rows; {summary['many_to_one_dropped']} dropped as many-to-one "
        "(same photometric object)",
        f"training set: {summary['rows']} rows, matched fraction {summary['matched_fraction']:.3f}",
    ]
    if sep["q50"] is not None:
        lines.append(
            f"separation: median {sep['q50']:.3f} arcsec, 95% {sep['q95']:.3f}, max {sep['max']:.3f}"
        )
    z = summary["redshift"]
    if z["matched"]["q50"] is not None:
        lines.append(
            f"redshift: matched median {z['matched']['q50']:.3f} ({z['matched']['n']} rows), "
            f"unmatched median {z['unmatched']['q50'] if z['unmatched']['q50'] is None else round(z['unmatched']['q50'], 3)} "
            f"({z['unmatched']['n']} rows)"
        )
    bands = summary["photometry_counts"].get("bands", {})
    for band, counts in bands.items():
        lines.append(f"  band {band}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if summary.get("subsets"):
        lines.append("subsets: " + ", ".join(f"{k} {v}" for k, v in summary["subsets"].items()))
    lines.append("outputs:")
    lines += [f"  {p}" for p in summary["outputs"]]
    return "\n".join(lines) + "\n"


def colour_bands(
    bands: list[str], configured: list[str] | None, available: list[str]
) -> list[str] | None:
    """Three bands (a, b, c) for the a-b vs c diagram, or None when there are not enough."""
    if configured:
        return configured if all(MAG_PREFIX + b in available for b in configured) else None
    have = [b for b in bands if MAG_PREFIX + b in available]
    if len(have) < 2:
        return None
    mid = len(have) // 2
    a, b = have[max(mid - 1, 0)], have[mid]
    return [a, b, b]


def make_plots(
    summary: dict[str, Any],
    table: pd.DataFrame,
    out_dir: str | Path,
    bands: list[str],
    configured_colours: list[str] | None,
) -> list[Path]:
    """Separation histogram, z histograms (matched vs unmatched), colour-magnitude diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    written = []
    meta = {"Software": "pzforge"}  # no timestamp: same inputs, same bytes

    fig, ax = plt.subplots(figsize=(5, 3.5))
    hist = summary["separation_arcsec"]["histogram"]
    ax.stairs(hist["counts"], hist["edges"], fill=True)
    ax.set_xlabel("separation [arcsec]")
    ax.set_ylabel("matches")
    ax.set_title("Spectroscopic-photometric separation")
    fig.tight_layout()
    written.append(out_dir / "separation.png")
    fig.savefig(written[-1], dpi=100, metadata=meta)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    z = summary["redshift"]
    ax.stairs(z["unmatched_counts"], z["histogram_edges"], label="unmatched", color="grey")
    ax.stairs(z["matched_counts"], z["histogram_edges"], label="matched", color="C0")
    ax.set_xlabel("spectroscopic redshift")
    ax.set_ylabel("objects")
    ax.legend()
    fig.tight_layout()
    written.append(out_dir / "redshift.png")
    fig.savefig(written[-1], dpi=100, metadata=meta)
    plt.close(fig)

    chosen = colour_bands(bands, configured_colours, list(table.columns))
    if chosen and len(table):
        a, b, c = chosen
        colour = table[MAG_PREFIX + a].to_numpy(float) - table[MAG_PREFIX + b].to_numpy(float)
        mag = table[MAG_PREFIX + c].to_numpy(float)
        ok = np.isfinite(colour) & np.isfinite(mag) & (np.abs(mag) < 90) & (np.abs(colour) < 20)
        shown = np.flatnonzero(ok)
        if len(shown) > MAX_POINTS:  # a seeded subsample: same plot for the same inputs
            shown = np.sort(np.random.default_rng(0).choice(shown, MAX_POINTS, replace=False))
        ok = np.zeros(len(ok), dtype=bool)
        ok[shown] = True
        fig, ax = plt.subplots(figsize=(5, 4))
        sc = ax.scatter(mag[ok], colour[ok], c=table["z"].to_numpy(float)[ok], s=6, cmap="viridis")
        fig.colorbar(sc, ax=ax, label="z")
        ax.set_xlabel(f"{c} [AB mag]")
        ax.set_ylabel(f"{a} - {b}")
        sub = f" ({MAX_POINTS:,} of {len(table):,} shown)" if len(table) > MAX_POINTS else ""
        ax.set_title("Colour-magnitude diagram" + sub, fontsize=10)
        fig.tight_layout()
        written.append(out_dir / "colour_magnitude.png")
        fig.savefig(written[-1], dpi=100, metadata=meta)
        plt.close(fig)
    return written


def render_page(summary: dict[str, Any], plots: list[Path], page: Path) -> str:
    """The Markdown page: the text summary, a table per band, the plots (relative links)."""
    lines = ["# Training set summary", "", "```", render_text(summary).rstrip(), "```", ""]
    if summary["magnitudes"]:
        lines += ["| band | finite | q05 | median | q95 |", "|---|---|---|---|---|"]
        for band, m in summary["magnitudes"].items():
            fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(
                f"| {band} | {m['finite']} | {fmt(m['q05'])} | {fmt(m['q50'])} | {fmt(m['q95'])} |"
            )
        lines.append("")
    for p in plots:
        rel = p.relative_to(page.parent) if p.is_relative_to(page.parent) else p
        lines += [f"![{p.stem}]({rel})", ""]
    return "\n".join(lines)


def write_summary(
    summary: dict[str, Any],
    table: pd.DataFrame,
    *,
    json_path: str | Path,
    text_path: str | Path,
    page_path: str | Path,
    plots_dir: str | Path,
    bands: list[str],
    colour_bands: list[str] | None,
) -> list[Path]:
    """Plots, then the JSON (listing them), the text and the Markdown page; returns the plots."""
    plots = make_plots(summary, table, plots_dir, bands, colour_bands)
    summary = {**summary, "plots": [str(p) for p in plots]}
    write_json(summary, json_path)
    write_text(render_text(summary), text_path)
    page = Path(page_path)
    write_text(render_page(summary, plots, page), page)
    return plots


__all__ = [
    "MAGERR_PREFIX",
    "build_summary",
    "make_plots",
    "read_reference_z",
    "render_page",
    "render_text",
    "write_summary",
]
