# The rules of workflows/embedding.smk (Snakemake's lint wants rules and functions apart).


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
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/prepare_embedding_features/prepare_embedding_features.log",
    benchmark:
        f"{BENCH}/prepare_embedding_features/prepare_embedding_features.tsv"
    script:
        "../../scripts/prepare_embedding_features.py"


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
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/fit_embedding/fit_embedding.log",
    benchmark:
        f"{BENCH}/fit_embedding/fit_embedding.tsv"
    script:
        "../../scripts/fit_embedding.py"


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
        stamp=STAMP,
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/compute_embedding_metrics/compute_embedding_metrics.log",
    benchmark:
        f"{BENCH}/compute_embedding_metrics/compute_embedding_metrics.tsv"
    script:
        "../../scripts/compute_embedding_metrics.py"


rule plot_embedding:
    """PNG plots (by redshift, survey, per-point score; UMAP next to PCA) and an offline HTML plot."""
    input:
        table=f"{RESULTS}/embedding/{RUN}.parquet",
    output:
        pngs=[
            report(p, caption="report/plot.rst", category="Embedding", subcategory="Plots")
            for p in get_embedding_plots()
        ],
        html=report(
            f"{RESULTS}/embedding/{RUN}.html",
            caption="report/html.rst",
            category="Embedding",
            subcategory="Interactive plot",
        ),
    params:
        run_name=RUN,
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/plot_embedding/plot_embedding.log",
    script:
        "../../scripts/plot_embedding.py"


rule summarize_embedding:
    """The readable summary `pzforge run` prints (counts, settings, metrics, outputs)."""
    input:
        metrics=f"{RESULTS}/embedding/metrics.json",
        outputs=get_embedding_outputs,
    output:
        text=report(f"{RESULTS}/summary.txt", caption="report/summary.rst", category="Summary"),
        json=f"{RESULTS}/summary.json",
    localrule: True
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/summarize_embedding/summarize_embedding.log",
    script:
        "../../scripts/summarize_embedding.py"


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
        registry=REGISTRY,
        run_name=RUN,
    localrule: True
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/write_embedding_manifest/write_embedding_manifest.log",
    script:
        "../../scripts/write_embedding_manifest.py"
