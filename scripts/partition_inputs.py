"""Snakemake script: reference (and photometry, with margin) as HATS (pzforge.partition)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.partition import partition_catalog

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard keeps
# them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake) as log:
        from pathlib import Path

        from pzforge.dask_cluster import dask_client

        settings = snakemake.params.partition
        threads = snakemake.threads
        dask_settings = snakemake.config.get("dask")  # runtime, not a param: no reruns
        with dask_client(dask_settings, n_workers=threads, need_client=True) as client:
            ref = partition_catalog(
                sorted(Path(snakemake.input.reference).glob("*.parquet")),
                snakemake.output.reference,
                None,
                settings,
                n_workers=threads,
                client=client,
            )
            phot = None
            if hasattr(snakemake.output, "photometry"):  # not when the photometry is used as is
                phot = partition_catalog(
                    sorted(Path(snakemake.input.photometry).glob("*.parquet")),
                    snakemake.output.photometry,
                    snakemake.output.margin,
                    settings,
                    n_workers=threads,
                    ra_column="phot_ra",
                    dec_column="phot_dec",
                    sort_column="phot_id",
                    client=client,
                )
        write_json({"reference": ref, "photometry": phot}, snakemake.output.info)
        log.info("partitioned: reference %s, photometry %s", ref, phot)
