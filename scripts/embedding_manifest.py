"""Snakemake script: the embedding's product manifest (pzforge.embedding.pipeline.embedding_manifest)."""

from typing import TYPE_CHECKING

from pzforge.embedding.pipeline import embedding_manifest
from pzforge.jobs import snakemake_job
from pzforge.manifest import write_manifest

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    manifest = embedding_manifest(
        embedding_parquet=snakemake.input.table,
        aux_files=[
            snakemake.input.metrics,
            *snakemake.input.plots,
            snakemake.input.html,
            snakemake.input.summary,
        ],
        metrics_json=snakemake.input.metrics,
        settings=snakemake.params.registry,
        run_name=snakemake.params.run_name,
    )
    write_manifest(manifest, snakemake.output.manifest)
    log.info("manifest of %s written", manifest.name)
