# Shared rule: Parquet parts -> one HATS catalog (hats-import) in RESULTS/hats/{catalog}/catalog,
# with its margin cache in .../margin when the workflow asks for one, and partition.json.
# The including workflow defines get_partition_input(wildcards) (files or folders of parts) and
# get_partition_layout(wildcards) -> {margin, ra_column, dec_column, sort_column}.


rule partition_catalog:
    """Ingested rows -> HATS tiles (+ margin cache) with hats-import."""
    input:
        get_partition_input,
    output:
        directory(f"{RESULTS}/hats/{{catalog}}"),
    params:
        partition=config["partition"],
        layout=get_partition_layout,
    threads: 1
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/partition_catalog/{{catalog}}.log",
    benchmark:
        f"{BENCH}/partition_catalog/{{catalog}}.tsv"
    script:
        "../scripts/partition_catalog.py"
