# Training Set Maker with a HATS photometric catalog used as it is (photometry.margin_cache):
# only the reference is partitioned; the photometry is described, not copied.


rule partition_reference:
    """The reference as a HATS catalog (hats-import); the photometry is used as it is."""
    input:
        reference=f"{RESULTS}/ingest/reference",
    output:
        reference=directory(f"{RESULTS}/hats/reference"),
        info=f"{RESULTS}/hats/partition.json",
    params:
        partition=config["partition"],
    threads: 1
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/partition_reference/partition_reference.log",
    benchmark:
        f"{BENCH}/partition_reference/partition_reference.tsv"
    script:
        "../scripts/partition_inputs.py"


rule describe_photometry:
    """Rows and location of the HATS photometric catalog, for the summary."""
    input:
        catalog=PHOTOMETRY["path"],
        margin=config["photometry"]["margin_cache"],
    output:
        stats=f"{RESULTS}/ingest/photometry.json",
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/describe_photometry/describe_photometry.log",
    script:
        "../scripts/describe_photometry.py"
