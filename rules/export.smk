rule write_combined_catalog:
    """The combined catalog as HATS and as one sorted, byte-reproducible Parquet file."""
    input:
        catalog=f"{RESULTS}/hats/input",
        resolution=get_resolution,
    output:
        hats=directory(f"{RESULTS}/combined/{RUN}_hats"),
        parquet=f"{RESULTS}/combined/{RUN}.parquet",
    params:
        mode=MODE,
        extra_columns=EXTRA_COLUMNS,
    threads: 1
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/write_combined_catalog/write_combined_catalog.log",
    benchmark:
        f"{BENCH}/write_combined_catalog/write_combined_catalog.tsv"
    script:
        "../scripts/write_combined_catalog.py"


rule export_catalog:
    """The combined catalog in another format (csv, fits, hdf5)."""
    input:
        f"{RESULTS}/combined/{RUN}.parquet",
    output:
        f"{RESULTS}/combined/{RUN}.{{fmt}}",
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/export_catalog/{{fmt}}.log",
    script:
        "../scripts/export_catalog.py"


rule summarize_run:
    """Counts per catalog and survey, as JSON and as readable text with the same numbers."""
    input:
        stats=get_ingest_stats,
        partition=f"{RESULTS}/hats/partition.json",
        duplicates=get_duplicate_tables,
        resolution=get_resolution,
        combined=f"{RESULTS}/combined/{RUN}.parquet",
    output:
        json=f"{RESULTS}/summary.json",
        text=f"{RESULTS}/summary.txt",
    params:
        mode=MODE,
        ties=config["resolution"]["ties"],
        outputs=get_output_paths,
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/summarize_run/summarize_run.log",
    script:
        "../scripts/summarize_run.py"


rule combined_manifest:
    """What to register: the combined catalog (HATS) with its Parquet, exports and summary."""
    input:
        hats=f"{RESULTS}/combined/{RUN}_hats",
        parquet=f"{RESULTS}/combined/{RUN}.parquet",
        exports=get_exports,
        summary=f"{RESULTS}/summary.json",
    output:
        manifest=f"{RESULTS}/products/combined.json",
    params:
        registry=config["registry"],
        run_name=RUN,
        extra_columns=EXTRA_COLUMNS,
    localrule: True
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/combined_manifest/combined_manifest.log",
    script:
        "../scripts/combined_manifest.py"
