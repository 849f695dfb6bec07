# Shared rule: a catalog's sorted Parquet file -> CSV, FITS or HDF5 next to it.
# The including workflow sets EXPORT_HDF5_KEY (the table's key inside HDF5 exports).


rule export_catalog:
    """A catalog in another format (csv, fits, hdf5), from its Parquet file."""
    input:
        f"{RESULTS}/{{folder}}/{{name}}.parquet",
    output:
        f"{RESULTS}/{{folder}}/{{name}}.{{fmt}}",
    params:
        hdf5_key=EXPORT_HDF5_KEY,
    wildcard_constraints:
        fmt="csv|fits|hdf5",
        folder="combined|training",
    conda:
        "../envs/pzforge.yaml"
    log:
        f"{LOGS}/export_catalog/{{folder}}/{{name}}.{{fmt}}.log",
    benchmark:
        f"{BENCH}/export_catalog/{{folder}}/{{name}}.{{fmt}}.tsv"
    script:
        "../scripts/export_catalog.py"
