"""Snakemake script: rows of a HATS photometric catalog used as it is (no ingest)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    import hats

    catalog = hats.read_hats(snakemake.input.catalog)
    rows = int(catalog.catalog_info.total_rows)
    stats = {
        "path": str(snakemake.input.catalog),
        "format": "hats",
        "margin_cache": str(snakemake.input.margin),
        "used_as_is": True,
        "rows_in": rows,
        "rows_out": rows,
        "dropped": {},
    }
    write_json(stats, snakemake.output.stats)
    log.info("photometry used as it is: %d rows", rows)
