"""Plots of an embedding: PNGs (matplotlib, UMAP and PCA side by side) and an offline HTML plot.

The HTML plot is made with bokeh and embeds bokeh's JavaScript inline, so it opens without a
network connection (e.g. on a cluster's login node or from an archive). It is byte-reproducible:
bokeh numbers its objects from a process-wide counter and names the document and its roots with
random UUIDs (``bokeh.util.serialization``); while the page is made, the counter restarts at its
initial value and the UUIDs come from a seeded generator (``_fixed_bokeh_ids``), after a first
page per process has let bokeh make the objects it makes lazily on first use.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

PANELS = (("umap", "UMAP"), ("pca", "PCA"))


def _axes(df: pd.DataFrame, prefix: str) -> tuple[str, str]:
    return f"{prefix}_1", f"{prefix}_2"


OTHER = "other"
MAX_CATEGORIES = 9


def _top_categories(values: pd.Series) -> pd.Series:
    """The most frequent categories (ties by name), the rest as 'other', as an ordered categorical."""
    text = values.astype("string").fillna("(none)")
    counts = text.value_counts()
    counts = counts.sort_index().sort_values(ascending=False, kind="stable")
    top = list(counts.index[:MAX_CATEGORIES])
    rest = ~text.isin(top)
    order = top + ([OTHER] if rest.any() else [])
    return pd.Series(pd.Categorical(text.where(~rest, OTHER), categories=order), index=values.index)


def _png(df: pd.DataFrame, path: Path, title: str, colour: str | dict[str, str], kind: str) -> None:
    """UMAP and PCA side by side; ``colour`` is one column, or one per panel (``{"umap": ...}``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5), constrained_layout=True)
    size = max(1.0, min(8.0, 8000 / max(len(df), 1)))
    for ax, (prefix, label) in zip(axes, PANELS, strict=True):
        x, y = _axes(df, prefix)
        column = colour[prefix] if isinstance(colour, dict) else colour
        if kind == "categorical":
            labels = _top_categories(df[column])
            cmap = plt.get_cmap("tab10")
            for i, name in enumerate(labels.cat.categories):
                part = df[(labels == name).to_numpy()]
                c = "0.6" if name == OTHER else cmap(i % 10)
                ax.scatter(
                    part[x], part[y], s=size, alpha=0.7, label=str(name), color=c, linewidths=0
                )
            if prefix == "pca":
                ax.legend(markerscale=4, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        else:
            vmin, vmax = (0.0, 1.0) if isinstance(colour, dict) else (None, None)
            sc = ax.scatter(
                df[x],
                df[y],
                c=df[column],
                s=size,
                cmap="viridis",
                vmin=vmin,
                vmax=vmax,
                alpha=0.8,
                linewidths=0,
            )
            fig.colorbar(sc, ax=ax, label=column)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(label)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None, "CreationDate": None})
    plt.close(fig)


def png_plots(df: pd.DataFrame, out_dir: str | Path, run_name: str) -> list[Path]:
    """One PNG per colouring: redshift (if any), survey (if any), kNN-preservation score."""
    out_dir = Path(out_dir)
    made = []
    if "z" in df:
        made.append(out_dir / "by_redshift.png")
        _png(df, made[-1], f"{run_name}: coloured by redshift", "z", "continuous")
    if "survey" in df:
        made.append(out_dir / "by_survey.png")
        _png(df, made[-1], f"{run_name}: coloured by survey", "survey", "categorical")
    made.append(out_dir / "by_knn_preservation.png")
    scores = {"umap": "knn_preservation"}
    if "knn_preservation_pca" in df:
        scores["pca"] = "knn_preservation_pca"
    else:  # no PCA score: show UMAP's score on both panels
        scores["pca"] = "knn_preservation"
    _png(
        df,
        made[-1],
        f"{run_name}: per-point kNN preservation (Jaccard of k-neighbour sets, each embedding)",
        scores,
        "continuous",
    )
    return made


_BOKEH_WARM = False


@contextlib.contextmanager
def _fixed_bokeh_ids(seed: int = 0) -> Iterator[None]:
    """Deterministic bokeh ids inside the block: simple ids from bokeh's first value (p1000, ...)
    and UUIDs from ``random.Random(seed)``. Restores bokeh's state after, and does nothing if a
    bokeh version lacks these internals (the determinism test would then fail, not the plot)."""
    import bokeh.util.serialization as ser

    if not all(hasattr(ser, n) for n in ("uuid", "_simple_id", "_simple_id_lock")):
        yield
        return
    rng = random.Random(seed)

    class _SeededUUID:  # the part of the uuid module bokeh uses
        UUID = uuid.UUID

        @staticmethod
        def uuid4() -> uuid.UUID:
            return uuid.UUID(int=rng.getrandbits(128), version=4)

    with ser._simple_id_lock:
        saved_id = ser._simple_id
        ser._simple_id = 999  # bokeh's initial value: ids start at p1000
    saved_uuid, ser.uuid = ser.uuid, _SeededUUID
    try:
        yield
    finally:
        ser.uuid = saved_uuid
        with ser._simple_id_lock:  # never hand out an id twice in this process
            ser._simple_id = max(ser._simple_id, saved_id)


def html_plot(df: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Interactive UMAP plot (pan, zoom, hover shows id, redshift, survey, score), offline and
    byte-reproducible."""
    colour = "z" if "z" in df else "knn_preservation"
    data = {
        "x": df["umap_1"].to_numpy(),
        "y": df["umap_2"].to_numpy(),
        "id": df["id"].astype(str).to_numpy(),
        "colour": df[colour].to_numpy(dtype="float64"),
        "score": df["knn_preservation"].to_numpy(),
    }
    tooltips = [("id", "@id"), (colour, "@colour{0.000}"), ("kNN preservation", "@score{0.00}")]
    if "survey" in df:
        data["survey"] = df["survey"].astype(str).to_numpy()
        tooltips.append(("survey", "@survey"))
    global _BOKEH_WARM
    if not _BOKEH_WARM:  # bokeh makes some objects lazily on first use: not inside the block
        _bokeh_page(data, tooltips, colour, title)
        _BOKEH_WARM = True
    with _fixed_bokeh_ids():
        html = _bokeh_page(data, tooltips, colour, title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html)
    return path


def _bokeh_page(data: dict, tooltips: list, colour: str, title: str) -> str:
    from bokeh.embed import file_html
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    mapper = LinearColorMapper(
        palette=Viridis256,
        low=float(np.nanmin(data["colour"])),
        high=float(np.nanmax(data["colour"])),
    )
    fig = figure(
        title=title,
        width=800,
        height=700,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        x_axis_label="umap_1",
        y_axis_label="umap_2",
    )
    fig.scatter(
        "x",
        "y",
        source=ColumnDataSource(data),
        size=4,
        alpha=0.7,
        color={"field": "colour", "transform": mapper},
        line_color=None,
    )
    fig.add_tools(HoverTool(tooltips=tooltips))
    fig.add_layout(ColorBar(color_mapper=mapper, title=colour), "right")
    return file_html(fig, INLINE, title)
