"""Snakemake script of rule plot_embedding: PNG and HTML plots (pzforge.embedding.pipeline.plot_embedding)."""

from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import plot_embedding
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    plot_embedding(
        snakemake.input.table,
        snakemake.output.pngs,
        snakemake.output.html,
        snakemake.params.run_name,
    )
