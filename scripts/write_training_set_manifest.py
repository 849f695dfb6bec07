"""Snakemake script of rule write_training_set_manifest: what to register (pzforge.training_set.pipeline.write_training_set_manifest)."""

from typing import TYPE_CHECKING

from pzforge.config import RegistrySettings
from pzforge.training_set.pipeline import write_training_set_manifest
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    write_training_set_manifest(
        key=snakemake.wildcards.product,
        hats_dir=snakemake.input.hats,
        parquet=snakemake.input.parquet,
        aux_files=[*snakemake.input.exports, snakemake.input.summary, snakemake.input.page],
        plots_dir=snakemake.input.plots,
        registry=RegistrySettings.from_config(snakemake.params.registry),
        run_name=snakemake.params.run_name,
        derived_from=snakemake.params.derived_from,
        photometry=snakemake.params.photometry,
        magnitudes=snakemake.params.magnitudes,
        out_manifest=snakemake.output.manifest,
    )
