# Shared by every pipeline: the config is validated (defaults filled in) before any job runs, the
# inputs are checked on the submitting host only, and the run's folders come from pzforge.paths.
# The workflow included after this file defines get_final_output() and get_manifests().
from pzforge.secrets import redact
from pzforge.workflow.snakefile import finish, on_submit_host, setup_run, start


PIPELINE, LAYOUT = setup_run(workflow, config)
RUN = config["run_name"]
RESULTS = str(LAYOUT.results)
LOGS = str(LAYOUT.logs)
BENCH = str(LAYOUT.benchmarks)
REGISTRY = redact(config["registry"])  # as a param: no password in .snakemake/ or provenance
