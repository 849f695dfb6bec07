"""Snakemake script: ingest one catalog (pzforge.ingest.ingest_catalog)."""

from typing import TYPE_CHECKING

from pzforge.homogenize import RuleBook
from pzforge.ingest import ingest_catalog, write_ingested
from pzforge.jobs import snakemake_job, write_json

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    spec = snakemake.params.spec
    rulebook = None if spec.get("flags_homogenized") else RuleBook.load(snakemake.input.surveys)
    df, stats = ingest_catalog(
        spec, snakemake.params.validation, snakemake.params.homogenization, rulebook
    )
    extra = snakemake.params.extra_columns
    for name in extra:
        if name not in df.columns:
            df[name] = None  # another catalog's extra column: null here
    write_ingested(df, extra, snakemake.output.table)
    write_json(stats.to_dict(), snakemake.output.stats)
    log.info(
        "%s: %d rows in, %d out, dropped %s",
        spec["name"],
        stats.rows_in,
        stats.rows_out,
        stats.dropped,
    )
