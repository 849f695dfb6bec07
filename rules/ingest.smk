rule ingest_catalog:
    """Read one input catalog, validate its rows, make ids and homogenize its flags."""
    input:
        catalog=get_catalog_path,
        surveys=SURVEYS_FILE,
    output:
        table=f"{RESULTS}/ingest/{{catalog}}.parquet",
        stats=f"{RESULTS}/ingest/{{catalog}}.json",
    params:
        spec=get_catalog_spec,
        validation=config["validation"],
        homogenization=config["homogenization"],
        extra_columns=EXTRA_COLUMNS,
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/ingest_catalog/{{catalog}}.log",
    benchmark:
        f"{BENCH}/ingest_catalog/{{catalog}}.tsv"
    script:
        "../scripts/ingest_catalog.py"
