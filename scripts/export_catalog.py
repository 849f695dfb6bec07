"""Snakemake script of rule export_catalog: a catalog in another format (pzforge.io.export.export_catalog)."""

from typing import TYPE_CHECKING

from pzforge.io.export import export_catalog
from pzforge.workflow.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake):
    export_catalog(
        snakemake.input[0],
        snakemake.wildcards.fmt,
        snakemake.output[0],
        hdf5_key=snakemake.params.hdf5_key,
    )
