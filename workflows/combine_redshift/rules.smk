# The rules of workflows/combine_redshift.smk (Snakemake's lint wants rules and functions apart).


rule ingest_catalog:
    """Read one input catalog, validate its rows, make ids and homogenize its flags."""
    input:
        catalog=get_catalog_path,
        surveys=SURVEYS_FILES,
    output:
        table=f"{RESULTS}/ingest/{{catalog}}.parquet",
        stats=f"{RESULTS}/ingest/{{catalog}}.json",
    params:
        spec=get_catalog_spec,
        validation=config["validation"],
        homogenization=config["homogenization"],
        extra_columns=EXTRA_COLUMNS,
    wildcard_constraints:
        catalog=unbatched_catalogs(),
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/ingest_catalog/{{catalog}}.log",
    benchmark:
        f"{BENCH}/ingest_catalog/{{catalog}}.tsv"
    script:
        "../../scripts/ingest_catalog.py"


# Small catalogs several to a job on local runs (INGEST_BATCHES): the same outputs and logs as
# ingest_catalog, one pair and one log per catalog.
for BATCH, MEMBERS in INGEST_BATCHES.items():

    rule:
        name:
            f"ingest_catalogs_{BATCH}"
        input:
            catalogs=[CATALOGS[name]["path"] for name in MEMBERS],
            surveys=SURVEYS_FILES,
        output:
            tables=[f"{RESULTS}/ingest/{name}.parquet" for name in MEMBERS],
            stats=[f"{RESULTS}/ingest/{name}.json" for name in MEMBERS],
        params:
            specs=[CATALOGS[name] for name in MEMBERS],
            validation=config["validation"],
            homogenization=config["homogenization"],
            extra_columns=EXTRA_COLUMNS,
        conda:
            "../../envs/pzforge.yaml"
        log:
            [f"{LOGS}/ingest_catalog/{name}.log" for name in MEMBERS],
        benchmark:
            f"{BENCH}/ingest_catalogs/{BATCH}.tsv"
        script:
            "../../scripts/ingest_catalogs.py"


rule find_duplicates:
    """All pairs within the radius over the whole sky (tiles + margins), grouped transitively."""
    input:
        f"{RESULTS}/hats/input",
    output:
        pairs=f"{RESULTS}/duplicates/pairs.parquet",
        groups=f"{RESULTS}/duplicates/groups.parquet",
    params:
        radius_arcsec=config["crossmatch"]["radius_arcsec"],
    threads: 1
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/find_duplicates/find_duplicates.log",
    benchmark:
        f"{BENCH}/find_duplicates/find_duplicates.tsv"
    script:
        "../../scripts/find_duplicates.py"


rule resolve_duplicates:
    """Rank group members by the configured criteria; mark or choose the rows to keep."""
    input:
        partitioned=f"{RESULTS}/hats/input",
        groups=f"{RESULTS}/duplicates/groups.parquet",
    output:
        resolution=f"{RESULTS}/duplicates/resolution.parquet",
    params:
        resolution=RESOLUTION,
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/resolve_duplicates/resolve_duplicates.log",
    benchmark:
        f"{BENCH}/resolve_duplicates/resolve_duplicates.tsv"
    script:
        "../../scripts/resolve_duplicates.py"


rule write_combined_catalog:
    """The combined catalog as HATS and as one sorted, byte-reproducible Parquet file."""
    input:
        partitioned=f"{RESULTS}/hats/input",
        resolution=get_resolution,
        footprints=FOOTPRINT_FILES,
    output:
        hats=directory(f"{RESULTS}/combined/{RUN}_hats"),
        parquet=f"{RESULTS}/combined/{RUN}.parquet",
    params:
        mode=MODE,
        extra_columns=EXTRA_COLUMNS,
        footprints=config["footprints"],
        z_flag_min=config["output"]["z_flag_min"],
        stamp=STAMP,
    threads: 1
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/write_combined_catalog/write_combined_catalog.log",
    benchmark:
        f"{BENCH}/write_combined_catalog/write_combined_catalog.tsv"
    script:
        "../../scripts/write_combined_catalog.py"


rule summarize_run:
    """Counts per catalog and survey, as JSON and as readable text with the same numbers."""
    input:
        stats=get_ingest_stats,
        partitioned=f"{RESULTS}/hats/input",
        duplicates=get_duplicate_tables,
        resolution=get_resolution,
        combined=f"{RESULTS}/combined/{RUN}.parquet",
    output:
        json=f"{RESULTS}/summary.json",
        text=report(f"{RESULTS}/summary.txt", caption="report/summary.rst", category="Summary"),
    params:
        mode=MODE,
        ties=config["resolution"]["ties"],
        outputs=get_output_paths,
        z_flag_min=config["output"]["z_flag_min"],
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/summarize_run/summarize_run.log",
    benchmark:
        f"{BENCH}/summarize_run/summarize_run.tsv"
    script:
        "../../scripts/summarize_run.py"


rule write_qa_report:
    """The QA report next to the summary: qa.html (PNGs embedded) and qa/ (PNGs, qa.json)."""
    input:
        partitioned=f"{RESULTS}/hats/input",
        duplicates=get_duplicate_tables,
        resolution=get_resolution,
        summary=f"{RESULTS}/summary.json",
    output:
        html=report(
            f"{RESULTS}/qa.html",
            caption="report/qa.rst",
            category="Quality assessment",
            subcategory="Page",
        ),
        folder=report(
            directory(f"{RESULTS}/qa"),
            patterns=["{name}.png"],
            caption="report/qa_plot.rst",
            category="Quality assessment",
            subcategory="Plots",
        ),
    params:
        settings=QA_SETTINGS,
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/write_qa_report/write_qa_report.log",
    benchmark:
        f"{BENCH}/write_qa_report/write_qa_report.tsv"
    script:
        "../../scripts/write_qa_report.py"


rule write_combined_manifest:
    """What to register: the combined catalog (HATS) with its Parquet, exports and summary."""
    input:
        hats=f"{RESULTS}/combined/{RUN}_hats",
        parquet=f"{RESULTS}/combined/{RUN}.parquet",
        exports=get_exports,
        summary=f"{RESULTS}/summary.json",
        qa=get_qa_report,
    output:
        manifest=str(LAYOUT.manifest("combined")),
    params:
        registry=REGISTRY,
        run_name=RUN,
        extra_columns=EXTRA_COLUMNS,
        footprints=[fp["name"] for fp in config["footprints"]],
        derived_from=DERIVED_FROM,
    localrule: True
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/write_combined_manifest/write_combined_manifest.log",
    script:
        "../../scripts/write_combined_manifest.py"
