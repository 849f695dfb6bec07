"""Snakemake script of rule describe_photometry: a HATS photometric catalog used as it is (pzforge.training_set.pipeline.describe_photometry)."""

from typing import TYPE_CHECKING

from pzforge.training_set.pipeline import describe_photometry
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    describe_photometry(snakemake.input.catalog, snakemake.input.margin, snakemake.output.stats)
