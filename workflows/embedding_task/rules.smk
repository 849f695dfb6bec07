# The rules of workflows/embedding_task.smk (Snakemake's lint wants rules and functions apart).


rule run_embedding_task:
    """UMAP map of the training product (or its stored fit), scores, neighbours, metrics, and the
    production product on the map."""
    input:
        get_task_inputs,
    output:
        result=f"{RESULTS}/result.json",
    params:
        inputs=TASK_INPUTS,
        task=config["params"],
        fits_dir=FITS_DIR,
    threads: 1
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/run_embedding_task/run_embedding_task.log",
    benchmark:
        f"{BENCH}/run_embedding_task/run_embedding_task.tsv"
    script:
        "../../scripts/run_embedding_task.py"
