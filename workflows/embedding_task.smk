# Embedding task: one job - the UMAP map of a product (or its stored fit), hydro-vis's result,
# and a production product embedded onto the map. Steps: pzforge.embedding.task.compute.
from pzforge.embedding.task.hooks import task_inputs


# The products, located once on the submitting host for the run's user (jobs read the answer).
TASK_INPUTS = on_submit_host(workflow, "embedding_task_inputs", lambda: task_inputs(config))
FITS_DIR = config["fits_dir"] or f"{RESULTS}/fits"


def get_task_inputs(wildcards=None):
    production = TASK_INPUTS["production"]
    return [TASK_INPUTS["training"]["path"], *([production["path"]] if production else [])]


def get_output_paths(wildcards=None):
    return [f"{RESULTS}/result.json"]


def get_manifests(wildcards=None):
    return []


def get_final_output():
    return get_output_paths()


include: "embedding_task/rules.smk"
