"""Snakemake script: combined catalog as HATS + Parquet (pzforge.combine.write_combined)."""

from typing import TYPE_CHECKING

from pzforge.combine import write_combined
from pzforge.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    import pandas as pd

    resolution = (
        pd.read_parquet(snakemake.input.resolution[0]) if snakemake.input.resolution else None
    )
    info = write_combined(
        snakemake.input.catalog,
        resolution,
        snakemake.params.mode,
        snakemake.params.extra_columns,
        snakemake.output.hats,
        snakemake.output.parquet,
    )
    log.info("combined catalog: %s", info)
