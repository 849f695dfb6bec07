"""Snakemake script: the combined catalog's product manifest (pzforge.register.combined_manifest)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job
from pzforge.manifest import write_manifest
from pzforge.register import combined_manifest

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    manifest = combined_manifest(
        hats_dir=snakemake.input.hats,
        aux_files=[snakemake.input.parquet, *snakemake.input.exports, snakemake.input.summary],
        settings=snakemake.params.registry,
        run_name=snakemake.params.run_name,
        extra=snakemake.params.extra_columns,
    )
    write_manifest(manifest, snakemake.output.manifest)
    log.info("manifest of %s written", manifest.name)
