"""Snakemake script: HATS catalog + margin cache (pzforge.partition.partition_catalog)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.partition import partition_catalog

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard keeps
# them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake) as log:
        info = partition_catalog(
            snakemake.input,
            snakemake.output.catalog,
            snakemake.output.margin,
            snakemake.params.partition,
            n_workers=snakemake.threads,
            dask_settings=snakemake.config.get("dask"),  # runtime, not a param: no reruns
        )
        write_json(info, snakemake.output.info)
        log.info("partitioned: %s", info)
