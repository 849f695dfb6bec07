# Embedding: features of one catalog (file or registry product) -> UMAP fit (+ stability
# replicates) -> metrics vs a PCA baseline -> plots -> summary -> product manifest (Validation Results).
# Steps: pzforge.embedding.pipeline (one function per rule).
from pzforge.embedding.hooks import refit_token, resolve_source
from pzforge.products.stamp import make_stamp, stamp_inputs


SOURCE = on_submit_host(workflow, "embedding_source", lambda: resolve_source(config))
REFIT_TOKEN = refit_token(config, f"{RESULTS}/embedding/fit_token.txt")
STAMP = make_stamp(config, PIPELINE, stamp_inputs(SOURCE))  # provenance inside the files


def get_embedding_input(wildcards=None):
    return SOURCE["path"]


def get_embedding_outputs(wildcards=None):
    return [
        f"{RESULTS}/embedding/{RUN}.parquet",
        f"{RESULTS}/embedding/metrics.json",
        *get_embedding_plots(),
        f"{RESULTS}/embedding/{RUN}.html",
    ]


def get_embedding_plots(wildcards=None):
    names = ["by_knn_preservation"]
    if config["columns"]["redshift"]:
        names.insert(0, "by_redshift")
    if config["columns"]["survey"]:
        names.insert(-1, "by_survey")
    return expand(f"{RESULTS}/embedding/plots/{{name}}.png", name=names)


def get_output_paths(wildcards=None):
    return get_embedding_outputs()


def get_manifests(wildcards=None):
    return [str(LAYOUT.manifest("embedding"))]


def get_final_output():
    return [f"{RESULTS}/summary.txt", *get_manifests()]


# `snakemake --report` (or `pzforge run --report FILE`): the workflow's description
report: "embedding/report/workflow.rst"


include: "embedding/rules.smk"
