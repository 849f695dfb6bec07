"""Snakemake script of rule write_combined_catalog: the combined catalog as HATS + Parquet (pzforge.combine.pipeline.write_combined_catalog)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import write_combined_catalog
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    write_combined_catalog(
        snakemake.input.partitioned,
        snakemake.input.resolution[0] if snakemake.input.resolution else None,
        snakemake.params.mode,
        snakemake.params.extra_columns,
        snakemake.output.hats,
        snakemake.output.parquet,
        footprints=snakemake.params.footprints,
        z_flag_min=snakemake.params.z_flag_min,
        stamp=snakemake.params.stamp,
    )
