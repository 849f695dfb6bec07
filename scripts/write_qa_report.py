"""Snakemake script of rule write_qa_report: the QA page and PNGs (pzforge.combine.pipeline.write_qa_report)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import write_qa_report
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    write_qa_report(
        partitioned=snakemake.input.partitioned,
        duplicate_files=list(snakemake.input.duplicates),
        resolution_files=list(snakemake.input.resolution),
        summary_file=snakemake.input.summary,
        settings=snakemake.params.settings,
        out_html=snakemake.output.html,
        out_dir=snakemake.output.folder,
    )
