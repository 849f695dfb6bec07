"""Snakemake script of rule run_embedding_task: an embedding task's result (pzforge.embedding.task.compute.run_embedding_task)."""

from typing import TYPE_CHECKING

from pzforge.embedding.task.compute import run_embedding_task
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    run_embedding_task(
        snakemake.params.inputs,
        snakemake.params.task,
        snakemake.params.fits_dir,
        snakemake.output.result,
    )
