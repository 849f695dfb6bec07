"""Snakemake script of rule find_duplicates: all pairs within the radius, grouped (pzforge.combine.pipeline.find_duplicates)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import find_duplicates
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard
# keeps them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake):
        find_duplicates(
            snakemake.input[0],
            snakemake.params.radius_arcsec,
            snakemake.output.pairs,
            snakemake.output.groups,
            dask_settings=snakemake.config.get("dask"),  # runtime, not a param: no reruns
            n_workers=snakemake.threads,
        )
