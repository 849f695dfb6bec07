# Training Set Maker: ingest the reference (a product or a file) and the photometry -> both as
# HATS (the photometry with a margin cache) -> nearest-neighbour crossmatch, one spectroscopic row
# per photometric object, magnitudes, split -> HATS + Parquet (+ exports) -> summary -> manifest.
# Steps: pzforge.training_set.pipeline (one function per rule).
from pzforge.products.stamp import make_stamp, stamp_inputs
from pzforge.training_set.inputs import resolve_photometry, resolve_reference
from pzforge.training_set.rail import SUFFIXES as RAIL_SUFFIXES


# Resolved once on the submitting host (jobs read the saved answer): a product reference
# becomes its main file.
REFERENCE = on_submit_host(
    workflow,
    "reference",
    lambda: resolve_reference(config["reference"], config["registry"]["url"]),
)
PHOTOMETRY = on_submit_host(
    workflow,
    "photometry",
    lambda: resolve_photometry(config["photometry"], config["registry"]["url"]),
)
PHOTOMETRY_SETTINGS = {**config["photometry"], **PHOTOMETRY}
# A HATS photometric catalog with its own margin cache is crossmatched as it is.
DIRECT = config["photometry"]["margin_cache"] is not None
SPLIT = config["split"]
# provenance inside the product files: the input products (or files) by id and name
STAMP = make_stamp(config, PIPELINE, stamp_inputs(REFERENCE, PHOTOMETRY))
EXPORT_HDF5_KEY = "training_set"


wildcard_constraints:
    product="training_set|train|test",
    catalog="reference|photometry",


def get_partition_input(wildcards):
    return [f"{RESULTS}/ingest/{wildcards.catalog}"]


def get_partition_layout(wildcards):
    if wildcards.catalog == "photometry":
        return {"margin": True, "ra_column": "phot_ra", "dec_column": "phot_dec", "sort_column": "phot_id"}
    return {"margin": False, "ra_column": "ra", "dec_column": "dec", "sort_column": "id"}


def get_photometry_input(wildcards=None):
    return PHOTOMETRY["path"] if DIRECT else f"{RESULTS}/hats/photometry"


def get_photometry_margin(wildcards=None):
    """The margin cache of a HATS photometric catalog used as it is (none otherwise)."""
    return [config["photometry"]["margin_cache"]] if DIRECT else []


def get_output_keys(wildcards=None):
    if SPLIT["method"] != "none" and SPLIT["output"] == "products":
        return ["train", "test"]
    return ["training_set"]


def get_training_hats(wildcards=None):
    return [f"{RESULTS}/training/{k}_hats" for k in get_output_keys()]


def get_training_parquet(wildcards=None):
    return [f"{RESULTS}/training/{k}.parquet" for k in get_output_keys()]


def get_rail_outputs(product):
    """The RAIL file and its stage settings of one product (none unless output.rail.enabled)."""
    rail = config["output"]["rail"]
    if not rail["enabled"]:
        return []
    suffix = RAIL_SUFFIXES[rail["format"]]
    return [f"{RESULTS}/rail/{product}_rail{suffix}", f"{RESULTS}/rail/{product}_rail{suffix}.json"]


def get_product_exports(wildcards):
    formats = [f for f in config["output"]["formats"] if f != "parquet"]
    exports = expand(f"{RESULTS}/training/{wildcards.product}.{{fmt}}", fmt=formats)
    return [*exports, *get_rail_outputs(wildcards.product)]


def get_exports(wildcards=None):
    formats = [f for f in config["output"]["formats"] if f != "parquet"]
    exports = expand(
        f"{RESULTS}/training/{{product}}.{{fmt}}", product=get_output_keys(), fmt=formats
    )
    return [*exports, *(p for k in get_output_keys() for p in get_rail_outputs(k))]


def get_output_paths(wildcards=None):
    return [*get_training_hats(), *get_training_parquet(), *get_exports()]


def get_derived_from(wildcards=None):
    return [p["product_id"] for p in (REFERENCE, PHOTOMETRY) if p["product_id"] is not None]


def get_manifests(wildcards=None):
    return [str(LAYOUT.manifest(k)) for k in get_output_keys()]


def get_final_output():
    return [f"{RESULTS}/summary.json", *get_exports(), *get_manifests()]


# `snakemake --report` (or `pzforge run --report FILE`): the workflow's description
report: "training_set/report/workflow.rst"


include: "../rules/partition.smk"
include: "../rules/export.smk"


include: "training_set/rules.smk"
