"""Snakemake script: resolve duplicate groups (pzforge.combine.resolve_duplicates)."""

from typing import TYPE_CHECKING

from pzforge.combine import resolve_duplicates, write_parquet_atomic
from pzforge.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    import pandas as pd
    import pyarrow as pa

    groups = pd.read_parquet(snakemake.input.groups)
    table = resolve_duplicates(snakemake.input.catalog, groups, snakemake.params.resolution)
    write_parquet_atomic(
        pa.Table.from_pandas(table, preserve_index=False), snakemake.output.resolution
    )
    log.info("tie_result counts: %s", table["tie_result"].value_counts().to_dict())
