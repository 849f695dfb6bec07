"""Snakemake script: export a training set to another format (pzforge.export)."""

from typing import TYPE_CHECKING

from pzforge.export import export_catalog
from pzforge.jobs import snakemake_job

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    out = export_catalog(
        snakemake.input[0], snakemake.wildcards.fmt, snakemake.output[0], hdf5_key="training_set"
    )
    log.info("wrote %s", out)
