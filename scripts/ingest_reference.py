"""Snakemake script: the reference catalog to standard columns (pzforge.training_set)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.training_set import ingest_reference

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    stats = ingest_reference(
        snakemake.params.reference, snakemake.params.location, snakemake.output.parts
    )
    write_json(stats, snakemake.output.stats)
    log.info(
        "reference: %d rows in, %d out, dropped %s",
        stats["rows_in"],
        stats["rows_out"],
        stats["dropped"],
    )
