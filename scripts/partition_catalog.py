"""Snakemake script: HATS catalog + margin cache (pzforge.partition.partition_catalog)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.partition import partition_catalog

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    info = partition_catalog(
        snakemake.input,
        snakemake.output.catalog,
        snakemake.output.margin,
        snakemake.params.partition,
        n_workers=snakemake.threads,
    )
    write_json(info, snakemake.output.info)
    log.info("partitioned: %s", info)
