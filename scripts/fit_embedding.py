"""Snakemake script of rule fit_embedding: UMAP fit + stability replicates (pzforge.embedding.pipeline.fit_embedding_step)."""

from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import fit_embedding_step
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    fit_embedding_step(
        snakemake.input.features,
        snakemake.params.umap,
        snakemake.params.stability,
        snakemake.params.refit,
        snakemake.output.embedding,
        snakemake.output.replicates,
        snakemake.output.token,
        metrics=snakemake.config["metrics"],  # only checked against the rows: not a param
    )
