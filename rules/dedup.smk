rule find_duplicates:
    """All pairs within the radius over the whole sky (tiles + margins), grouped transitively."""
    input:
        catalog=f"{RESULTS}/hats/input",
        margin=f"{RESULTS}/hats/input_margin",
    output:
        pairs=f"{RESULTS}/duplicates/pairs.parquet",
        groups=f"{RESULTS}/duplicates/groups.parquet",
    params:
        radius_arcsec=config["crossmatch"]["radius_arcsec"],
    threads: 1
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/find_duplicates/find_duplicates.log",
    benchmark:
        f"{BENCH}/find_duplicates/find_duplicates.tsv"
    script:
        "../scripts/find_duplicates.py"


rule resolve_duplicates:
    """Rank group members by the configured criteria; mark or choose the rows to keep."""
    input:
        catalog=f"{RESULTS}/hats/input",
        groups=f"{RESULTS}/duplicates/groups.parquet",
    output:
        resolution=f"{RESULTS}/duplicates/resolution.parquet",
    params:
        resolution=config["resolution"],
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/resolve_duplicates/resolve_duplicates.log",
    benchmark:
        f"{BENCH}/resolve_duplicates/resolve_duplicates.tsv"
    script:
        "../scripts/resolve_duplicates.py"
