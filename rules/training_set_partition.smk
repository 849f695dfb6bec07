# Training Set Maker: the photometry is ingested and partitioned (with its margin cache).


rule ingest_photometry:
    """The photometric catalog, streamed to Parquet parts with phot_id, phot_ra, phot_dec."""
    input:
        PHOTOMETRY["path"],
    output:
        parts=directory(f"{RESULTS}/ingest/photometry"),
        stats=f"{RESULTS}/ingest/photometry.json",
    params:
        photometry=PHOTOMETRY_SETTINGS,
        reference=config["reference"],
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/ingest_photometry/ingest_photometry.log",
    benchmark:
        f"{BENCH}/ingest_photometry/ingest_photometry.tsv"
    script:
        "../scripts/ingest_photometry.py"


rule partition_inputs:
    """Both sides as HATS catalogs (hats-import), the photometry with its margin cache."""
    input:
        reference=f"{RESULTS}/ingest/reference",
        photometry=f"{RESULTS}/ingest/photometry",
    output:
        reference=directory(f"{RESULTS}/hats/reference"),
        photometry=directory(f"{RESULTS}/hats/photometry"),
        margin=directory(f"{RESULTS}/hats/photometry_margin"),
        info=f"{RESULTS}/hats/partition.json",
    params:
        partition=config["partition"],
    threads: 1
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/partition_inputs/partition_inputs.log",
    benchmark:
        f"{BENCH}/partition_inputs/partition_inputs.tsv"
    script:
        "../scripts/partition_inputs.py"
