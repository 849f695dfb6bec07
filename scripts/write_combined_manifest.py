"""Snakemake script of rule write_combined_manifest: what to register (pzforge.combine.pipeline.write_combined_manifest)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import write_combined_manifest
from pzforge.config import RegistrySettings
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    write_combined_manifest(
        hats_dir=snakemake.input.hats,
        aux_files=[
            snakemake.input.parquet,
            *snakemake.input.exports,
            snakemake.input.summary,
            *snakemake.input.qa,
        ],
        registry=RegistrySettings.from_config(snakemake.params.registry),
        run_name=snakemake.params.run_name,
        extra_columns=snakemake.params.extra_columns,
        footprints=snakemake.params.footprints,
        derived_from=snakemake.params.derived_from,
        out_manifest=snakemake.output.manifest,
    )
