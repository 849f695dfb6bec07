# Helpers shared by every pipeline. The config is validated (and its defaults filled in) here,
# before any job runs; pipeline-specific helpers live at the top of workflows/<pipeline>.smk.
import sys

from pzforge.config import validate_config
from pzforge.errors import PzforgeError
from pzforge.jobs import ERROR_MARK
from pzforge.pipelines import preflight
from pzforge.provenance import ensure_run_id, finish_run, record_run_start


config.update(validate_config(config))
PIPELINE = config["pipeline"]
preflight(PIPELINE, config)
ensure_run_id()

RUN = config["run_name"]
RESULTS = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCH = f"benchmarks/{RUN}"


def finish_pipeline_run(config, status, manifests, logfile):
    """Ingest provenance (and register products on success); a failure is one clear line."""
    try:
        summary = finish_run(config, status, manifests=manifests, logfile=logfile)
    except Exception as exc:  # the run's outcome must not hide behind a traceback
        print(f"{ERROR_MARK} recording the run failed: {exc}", file=sys.stderr)
        raise
    for r in summary["products"]:
        state = "unchanged" if r.get("unchanged") else "registered"
        print(f"pzforge: {state} product {r['internal_name']} (id {r['id']})", file=sys.stderr)
    print(f"pzforge: run {summary['run_id']} recorded ({status})", file=sys.stderr)
