# Helpers and input functions shared by every pipeline. Config is validated (and its defaults
# filled in) here, before any job runs.
from pzforge.config import SHIPPED_SURVEYS_FILE, validate_config, union_extra_columns
from pzforge.ingest import preflight


config.update(validate_config(config))
preflight(config)

RUN = config["run_name"]
RESULTS = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCH = f"benchmarks/{RUN}"
CATALOGS = {c["name"]: c for c in config["catalogs"]}
EXTRA_COLUMNS = union_extra_columns(config)
SURVEYS_FILE = config["homogenization"]["surveys_file"] or str(SHIPPED_SURVEYS_FILE)
MODE = config["resolution"]["mode"]


wildcard_constraints:
    catalog="|".join(CATALOGS),
    fmt="csv|fits|hdf5",


def get_catalog_path(wildcards):
    return CATALOGS[wildcards.catalog]["path"]


def get_catalog_spec(wildcards):
    return CATALOGS[wildcards.catalog]


def get_ingested(wildcards=None):
    return expand(f"{RESULTS}/ingest/{{catalog}}.parquet", catalog=sorted(CATALOGS))


def get_ingest_stats(wildcards=None):
    return expand(f"{RESULTS}/ingest/{{catalog}}.json", catalog=sorted(CATALOGS))


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


def get_final_output():
    targets = [f"{RESULTS}/summary.json", *get_exports()]
    if config["registry"]["register"]:
        targets.append(f"{RESULTS}/registry/product.json")
    return targets
