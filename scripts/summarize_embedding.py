"""Snakemake script of rule summarize_embedding: the readable summary (pzforge.embedding.pipeline.summarize_embedding)."""

from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import summarize_embedding
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    summarize_embedding(
        snakemake.input.metrics,
        list(snakemake.input.outputs),
        snakemake.output.text,
        snakemake.output.json,
    )
