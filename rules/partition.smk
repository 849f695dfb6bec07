rule partition_catalog:
    """All ingested rows -> one HATS catalog plus its margin cache (hats-import)."""
    input:
        get_ingested,
    output:
        catalog=directory(f"{RESULTS}/hats/input"),
        margin=directory(f"{RESULTS}/hats/input_margin"),
        info=f"{RESULTS}/hats/partition.json",
    params:
        partition=config["partition"],
    threads: 1
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/partition_catalog/partition_catalog.log",
    benchmark:
        f"{BENCH}/partition_catalog/partition_catalog.tsv"
    script:
        "../scripts/partition_catalog.py"
