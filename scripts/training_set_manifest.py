"""Snakemake script: a training set's product manifest (pzforge.register.training_set_manifest)."""

from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job
from pzforge.manifest import write_manifest
from pzforge.register import training_set_manifest

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    from pathlib import Path

    plots = sorted(str(p) for p in Path(snakemake.input.plots).glob("*.png"))
    manifest = training_set_manifest(
        key=snakemake.wildcards.product,
        hats_dir=snakemake.input.hats,
        parquet=snakemake.input.parquet,
        aux_files=[*snakemake.input.exports, snakemake.input.summary, snakemake.input.page, *plots],
        settings=snakemake.params.registry,
        run_name=snakemake.params.run_name,
        derived_from=snakemake.params.derived_from,
        photometry=snakemake.params.photometry,
        magnitudes=snakemake.params.magnitudes,
    )
    write_manifest(manifest, snakemake.output.manifest)
    log.info("manifest of %s written (derived from %s)", manifest.name, manifest.derived_from)
