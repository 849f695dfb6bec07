"""Snakemake script of rule resolve_duplicates: decide every duplicate group (pzforge.combine.pipeline.resolve_duplicates)."""

from typing import TYPE_CHECKING

from pzforge.combine.pipeline import resolve_duplicates
from pzforge.combine.settings import ResolutionSettings
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    resolve_duplicates(
        snakemake.input.partitioned,
        snakemake.input.groups,
        ResolutionSettings.from_config(snakemake.params.resolution),
        snakemake.output.resolution,
    )
