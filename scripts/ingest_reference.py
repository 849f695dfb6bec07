"""Snakemake script of rule ingest_reference: the reference catalog to standard columns (pzforge.training_set.pipeline.ingest_reference)."""

from typing import TYPE_CHECKING

from pzforge.training_set.pipeline import ingest_reference
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    ingest_reference(
        snakemake.params.reference,
        snakemake.params.location,
        snakemake.output.parts,
        snakemake.output.stats,
    )
