"""Snakemake script: run summary as JSON and text (pzforge.summary)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.summary import build_summary, render_summary

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    summary = build_summary(
        stats_files=snakemake.input.stats,
        partition_file=snakemake.input.partition,
        duplicate_files=snakemake.input.duplicates,
        resolution_files=snakemake.input.resolution,
        combined_parquet=snakemake.input.combined,
        mode=snakemake.params.mode,
        ties=snakemake.params.ties,
        outputs=snakemake.params.outputs,
    )
    write_json(summary, snakemake.output.json)
    with open(snakemake.output.text, "w") as fh:
        fh.write(render_summary(summary))
    log.info("summary written")
