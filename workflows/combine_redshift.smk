# Combine Redshift Catalogs: ingest each catalog -> one HATS catalog + margin -> duplicate pairs
# and groups -> resolution -> combined catalog (HATS, Parquet, exports) -> summary -> QA report
# -> manifest. Steps: pzforge.combine.pipeline (one function per rule).
from pzforge.combine.hooks import (
    catalog_products,
    derived_from,
    footprint_files,
    ingest_batches,
    qa_settings,
    resolution_params,
    surveys_files,
    unbatched_pattern,
    stamp_inputs,
    union_extra_columns,
    use_located,
)
from pzforge.products.stamp import make_stamp


# Catalogs given as registry products: located once on the submitting host (jobs read the saved
# answer); each then reads the product's main file, and the result's lineage names them.
PRODUCT_INPUTS = on_submit_host(workflow, "catalog_products", lambda: catalog_products(config))
use_located(config, PRODUCT_INPUTS)
DERIVED_FROM = derived_from(PRODUCT_INPUTS)
CATALOGS = {c["name"]: c for c in config["catalogs"]}
EXTRA_COLUMNS = union_extra_columns(config)
SURVEYS_FILES = surveys_files(config)
RESOLUTION = resolution_params(config)
FOOTPRINT_FILES = footprint_files(config)
MODE = config["resolution"]["mode"]
# provenance inside the product files: inputs by catalog name and format
STAMP = make_stamp(config, PIPELINE, stamp_inputs(config))
QA = config["qa"]["enabled"]
QA_SETTINGS = qa_settings(config)
EXPORT_HDF5_KEY = "combined"
# Small catalogs are ingested several to a job when the profile asks for it (`resources:
# [ingest_batches=2]`, e.g. one batch per core on a local run; off in the shipped profiles): each job's Python start and imports cost
# more than a small catalog's ingest. A profile's setting, read identically by every Snakemake
# process (the SLURM jobs parse this file again), so the DAG is the same everywhere; without it
# (profiles/slurm) every catalog has its own ingest_catalog job.
INGEST_BATCHES = ingest_batches(config, int(workflow.global_resources.get("ingest_batches", 0)))
BATCHED = {name for names in INGEST_BATCHES.values() for name in names}


wildcard_constraints:
    catalog="|".join(["input", *CATALOGS]),


def get_catalog_path(wildcards):
    return CATALOGS[wildcards.catalog]["path"]


def get_catalog_spec(wildcards):
    return CATALOGS[wildcards.catalog]


def unbatched_catalogs():
    return unbatched_pattern(CATALOGS, BATCHED)


def get_ingest_stats(wildcards=None):
    return expand(f"{RESULTS}/ingest/{{catalog}}.json", catalog=sorted(CATALOGS))


def get_partition_input(wildcards):
    return expand(f"{RESULTS}/ingest/{{catalog}}.parquet", catalog=sorted(CATALOGS))


def get_partition_layout(wildcards):
    return {"margin": True, "ra_column": "ra", "dec_column": "dec", "sort_column": "id"}


def get_resolution(wildcards=None):
    """The resolution table, unless the mode does no duplicate search."""
    return [] if MODE == "concatenate" else [f"{RESULTS}/duplicates/resolution.parquet"]


def get_duplicate_tables(wildcards=None):
    if MODE == "concatenate":
        return []
    return [f"{RESULTS}/duplicates/pairs.parquet", f"{RESULTS}/duplicates/groups.parquet"]


def get_exports(wildcards=None):
    formats = [f for f in config["output"]["formats"] if f != "parquet"]
    return expand(f"{RESULTS}/combined/{RUN}.{{fmt}}", fmt=formats)


def get_output_paths(wildcards=None):
    return [f"{RESULTS}/combined/{RUN}_hats", f"{RESULTS}/combined/{RUN}.parquet", *get_exports()]


def get_manifests(wildcards=None):
    return [str(LAYOUT.manifest("combined"))]


def get_qa_report(wildcards=None):
    return [f"{RESULTS}/qa.html"] if QA else []


def get_final_output():
    return [f"{RESULTS}/summary.json", *get_qa_report(), *get_exports(), *get_manifests()]


# `snakemake --report` (or `pzforge run --report FILE`): the workflow's description
report: "combine_redshift/report/workflow.rst"


include: "../rules/partition.smk"
include: "../rules/export.smk"


include: "combine_redshift/rules.smk"
