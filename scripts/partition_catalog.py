"""Snakemake script of rule partition_catalog: ingested rows -> HATS tiles (+ margin cache) (pzforge.tiles.partition.partition_step)."""

from typing import TYPE_CHECKING

from pzforge.config import PartitionSettings
from pzforge.tiles.partition import partition_step
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard
# keeps them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake):
        partition_step(
            snakemake.input,
            snakemake.output[0],
            PartitionSettings.from_config(snakemake.params.partition),
            **snakemake.params.layout,
            n_workers=snakemake.threads,
            dask_settings=snakemake.config.get("dask"),  # runtime, not a param: no reruns
        )
