"""Snakemake script: duplicate pairs and groups (pzforge.combine.find_duplicates)."""

from typing import TYPE_CHECKING

from pzforge.combine import find_duplicates, write_parquet_atomic
from pzforge.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

# Dask worker processes (dask.cluster: local) re-import this file as __mp_main__: the guard
# keeps them from running the job again.
if __name__ == "__main__":
    with snakemake_job(snakemake) as log:
        import pyarrow as pa

        pairs, groups = find_duplicates(
            snakemake.input.catalog,
            snakemake.input.margin,
            snakemake.params.radius_arcsec,
            dask_settings=snakemake.config.get("dask"),  # runtime, not a param: no reruns
            n_workers=snakemake.threads,
        )
        write_parquet_atomic(
            pa.Table.from_pandas(pairs, preserve_index=False), snakemake.output.pairs
        )
        write_parquet_atomic(
            pa.Table.from_pandas(groups, preserve_index=False), snakemake.output.groups
        )
        log.info("%d pairs in %d groups", len(pairs), groups["group_id"].nunique())
