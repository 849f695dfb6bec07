"""Snakemake script of rule write_embedding_manifest: what to register (pzforge.embedding.pipeline.write_embedding_manifest)."""

from typing import TYPE_CHECKING

from pzforge.config import RegistrySettings
from pzforge.embedding.pipeline import write_embedding_manifest
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    write_embedding_manifest(
        table=snakemake.input.table,
        aux_files=[
            snakemake.input.metrics,
            *snakemake.input.plots,
            snakemake.input.html,
            snakemake.input.summary,
        ],
        metrics_json=snakemake.input.metrics,
        registry=RegistrySettings.from_config(snakemake.params.registry),
        run_name=snakemake.params.run_name,
        out_manifest=snakemake.output.manifest,
    )
