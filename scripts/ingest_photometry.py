"""Snakemake script: the photometric catalog to Parquet parts (pzforge.training_set)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.training_set import ingest_photometry, reserved_names

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    ref = snakemake.params.reference
    ref_columns = [
        "id",
        "ra",
        "dec",
        "z",
        "z_err",
        "z_flag_homogenized",
        *(ref["keep_columns"] or []),
    ]
    from pzforge.training_set import DEFAULT_KEEP

    reserved = reserved_names([*ref_columns, *DEFAULT_KEEP])
    stats = ingest_photometry(snakemake.params.photometry, snakemake.output.parts, reserved)
    write_json(stats, snakemake.output.stats)
    log.info(
        "photometry: %d rows in, %d out, dropped %s",
        stats["rows_in"],
        stats["rows_out"],
        stats["dropped"],
    )
