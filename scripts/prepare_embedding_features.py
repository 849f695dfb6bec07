"""Snakemake script of rule prepare_embedding_features: features, cleaned, sampled, standardised (pzforge.embedding.pipeline.prepare_features)."""

from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import prepare_features
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    prepare_features(
        snakemake.params.source,
        snakemake.params.columns,
        snakemake.params.features,
        snakemake.params.sampling,
        snakemake.output.features,
        snakemake.output.stats,
        # checked against the rows before any fit; from the config, not params: changing
        # metrics.k must rerun the metrics only
        row_settings={
            "umap": snakemake.config["umap"],
            "metrics": snakemake.config["metrics"],
            "stability": snakemake.config["stability"],
            "redshift": bool(snakemake.config["columns"]["redshift"]),
        },
    )
