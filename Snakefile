# pzforge entry point: wiring only. Pipelines live in workflows/, shared rules in rules/.
# The config's `pipeline` key picks the workflow (default combine_redshift). Each workflow
# defines get_final_output() (the targets) and get_manifests() (the products to register).
from snakemake.utils import min_version

min_version("9.0")


if not config:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: f"workflows/{PIPELINE}.smk"


rule all:
    default_target: True
    input:
        get_final_output(),


# Provenance and registration happen here, on the submitting host, never in compute jobs:
# onstart records the DAG's plan, jobs write sidecars, the end of the run ingests them once.
onstart:
    start(workflow, config, PIPELINE, get_manifests(), get_output_paths())


onsuccess:
    finish(config, "success", log)


onerror:
    finish(config, "failed", log)
