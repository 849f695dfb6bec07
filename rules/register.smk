rule register_product:
    """Register the combined catalog as a Reference Redshift Catalog (by reference, no copy)."""
    input:
        hats=f"{RESULTS}/combined/{RUN}_hats",
        parquet=f"{RESULTS}/combined/{RUN}.parquet",
        exports=get_exports,
        summary=f"{RESULTS}/summary.json",
    output:
        receipt=f"{RESULTS}/registry/product.json",
    params:
        registry=config["registry"],
        run_name=RUN,
        extra_columns=EXTRA_COLUMNS,
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/register_product/register_product.log",
    script:
        "../scripts/register_product.py"
