"""Snakemake script: PNG and HTML plots of the embedding (pzforge.embedding.pipeline.make_plots)."""

from pathlib import Path
from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import make_plots
from pzforge.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    made = make_plots(
        snakemake.input.table,
        Path(snakemake.output.pngs[0]).parent,
        snakemake.output.html,
        snakemake.params.run_name,
    )
    log.info("plots: %s", ", ".join(map(str, made)))
