# Embedding: features of one catalog (file or registry product) -> UMAP fit (+ stability
# replicates) -> metrics vs a PCA baseline -> plots -> summary -> product manifest (Validation Results).
# Steps: pzforge.embedding.pipeline (one function per rule).
from pzforge.embedding.hooks import refit_token, resolve_source


SOURCE = on_submit_host(workflow, "embedding_source", lambda: resolve_source(config))
REFIT_TOKEN = refit_token(config, f"{RESULTS}/embedding/fit_token.txt")


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


def get_manifests(wildcards=None):
    return [str(LAYOUT.manifest("embedding"))]


def get_final_output():
    return [f"{RESULTS}/summary.txt", *get_manifests()]


rule prepare_embedding_features:
    """Features (columns or colours), rows with missing/sentinel values dropped, sampled, standardised."""
    input:
        get_embedding_input,
    output:
        features=f"{RESULTS}/embedding/features.parquet",
        stats=f"{RESULTS}/embedding/features.json",
    params:
        source=SOURCE,
        columns=config["columns"],
        features=config["features"],
        sampling=config["sampling"],
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/prepare_embedding_features/prepare_embedding_features.log",
    benchmark:
        f"{BENCH}/prepare_embedding_features/prepare_embedding_features.tsv"
    script:
        "../scripts/prepare_embedding_features.py"


rule fit_embedding:
    """UMAP fit of the sample, plus the stability replicates (other seeds, a subsample)."""
    input:
        features=f"{RESULTS}/embedding/features.parquet",
    output:
        embedding=f"{RESULTS}/embedding/umap.parquet",
        replicates=f"{RESULTS}/embedding/stability_replicates.parquet",
        token=f"{RESULTS}/embedding/fit_token.txt",
    params:
        umap=config["umap"],
        stability=config["stability"],
        refit=REFIT_TOKEN,
    threads: 1
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/fit_embedding/fit_embedding.log",
    benchmark:
        f"{BENCH}/fit_embedding/fit_embedding.tsv"
    script:
        "../scripts/fit_embedding.py"


rule compute_embedding_metrics:
    """Every metric for the UMAP embedding and a PCA baseline; the output table with scores."""
    input:
        features=f"{RESULTS}/embedding/features.parquet",
        stats=f"{RESULTS}/embedding/features.json",
        embedding=f"{RESULTS}/embedding/umap.parquet",
        replicates=f"{RESULTS}/embedding/stability_replicates.parquet",
    output:
        table=f"{RESULTS}/embedding/{RUN}.parquet",
        metrics=f"{RESULTS}/embedding/metrics.json",
    params:
        metrics=config["metrics"],
        umap=config["umap"],
        stability=config["stability"],
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/compute_embedding_metrics/compute_embedding_metrics.log",
    benchmark:
        f"{BENCH}/compute_embedding_metrics/compute_embedding_metrics.tsv"
    script:
        "../scripts/compute_embedding_metrics.py"


rule plot_embedding:
    """PNG plots (by redshift, survey, per-point score; UMAP next to PCA) and an offline HTML plot."""
    input:
        table=f"{RESULTS}/embedding/{RUN}.parquet",
    output:
        pngs=get_embedding_plots(),
        html=f"{RESULTS}/embedding/{RUN}.html",
    params:
        run_name=RUN,
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/plot_embedding/plot_embedding.log",
    script:
        "../scripts/plot_embedding.py"


rule summarize_embedding:
    """The readable summary `pzforge run` prints (counts, settings, metrics, outputs)."""
    input:
        metrics=f"{RESULTS}/embedding/metrics.json",
        outputs=get_embedding_outputs,
    output:
        text=f"{RESULTS}/summary.txt",
    localrule: True
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/summarize_embedding/summarize_embedding.log",
    script:
        "../scripts/summarize_embedding.py"


rule write_embedding_manifest:
    """What to register: the embedding table (main) with metrics, plots and HTML (Validation Results)."""
    input:
        table=f"{RESULTS}/embedding/{RUN}.parquet",
        metrics=f"{RESULTS}/embedding/metrics.json",
        plots=get_embedding_plots,
        html=f"{RESULTS}/embedding/{RUN}.html",
        summary=f"{RESULTS}/summary.txt",
    output:
        manifest=str(LAYOUT.manifest("embedding")),
    params:
        registry=config["registry"],
        run_name=RUN,
    localrule: True
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/write_embedding_manifest/write_embedding_manifest.log",
    script:
        "../scripts/write_embedding_manifest.py"
