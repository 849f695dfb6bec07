"""Snakemake script of rule summarize_run: the run's summary as JSON and text (pzforge.combine.pipeline.summarize_run)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import summarize_run
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    summarize_run(
        stats_files=snakemake.input.stats,
        partitioned=snakemake.input.partitioned,
        duplicate_files=snakemake.input.duplicates,
        resolution_files=snakemake.input.resolution,
        combined_parquet=snakemake.input.combined,
        mode=snakemake.params.mode,
        ties=snakemake.params.ties,
        outputs=snakemake.params.outputs,
        out_json=snakemake.output.json,
        out_text=snakemake.output.text,
        z_flag_min=snakemake.params.z_flag_min,
    )
