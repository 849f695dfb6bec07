"""Snakemake script: register the combined catalog (pzforge.register.register_combined)."""

import os
from typing import TYPE_CHECKING

from pzforge.jobs import snakemake_job, write_json
from pzforge.register import register_combined

if TYPE_CHECKING:
    from snakemake.script import snakemake

with snakemake_job(snakemake) as log:
    receipt = register_combined(
        hats_dir=snakemake.input.hats,
        aux_files=[snakemake.input.parquet, *snakemake.input.exports, snakemake.input.summary],
        settings=snakemake.params.registry,
        run_name=snakemake.params.run_name,
        extra=snakemake.params.extra_columns,
        run_id=os.environ.get("PZFORGE_RUN_ID"),
    )
    write_json(receipt, snakemake.output.receipt)
    log.info("registered %s", receipt["internal_name"])
