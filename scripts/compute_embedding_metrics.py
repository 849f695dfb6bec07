"""Snakemake script of rule compute_embedding_metrics: metrics vs a PCA baseline (pzforge.embedding.pipeline.compute_embedding_metrics)."""

from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import compute_embedding_metrics
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    compute_embedding_metrics(
        snakemake.input.features,
        snakemake.input.stats,
        snakemake.input.embedding,
        snakemake.input.replicates,
        settings=snakemake.params.metrics,
        umap_params=snakemake.params.umap,
        stability=snakemake.params.stability,
        out_parquet=snakemake.output.table,
        out_json=snakemake.output.metrics,
        stamp=snakemake.params.stamp,
    )
