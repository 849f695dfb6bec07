"""Snakemake script: training set summary JSON, text, Markdown page and plots."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.training_summary import build_summary, make_plots, render_page, render_text

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    from pathlib import Path

    summary, table = build_summary(
        reference_dir=snakemake.input.reference,
        reference_stats=snakemake.input.reference_stats,
        photometry_stats=snakemake.input.photometry_stats,
        partition=snakemake.input.partition,
        match_stats=snakemake.input.match_stats,
        training_parquets=list(snakemake.input.parquet),
        radius_arcsec=snakemake.params.radius_arcsec,
        outputs=snakemake.params.outputs,
    )
    page = Path(snakemake.output.page)
    plots = make_plots(
        summary,
        table,
        snakemake.output.plots,
        snakemake.params.bands,
        snakemake.params.colour_bands,
    )
    summary["plots"] = [str(p) for p in plots]
    write_json(summary, snakemake.output.json)
    Path(snakemake.output.text).write_text(render_text(summary))
    page.write_text(render_page(summary, plots, page))
    log.info("summary written: %d rows, %d plots", summary["rows"], len(plots))
