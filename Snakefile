# pzforge entry point: wiring only. Pipelines live in workflows/, building blocks in rules/.
from snakemake.utils import min_version

min_version("9.0")


if not config:
    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "workflows/combine_redshift.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
