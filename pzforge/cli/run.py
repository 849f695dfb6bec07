"""`pzforge run`, `pzforge demo`, `pzforge validate-config`: run pipelines and check configs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pzforge.cli.render import err, error_line, out, print_blocks

ConfigOpt = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="Config file (repeatable; later files win)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Override a config key: KEY=VALUE, e.g. crossmatch.radius_arcsec=2."
    ),
]


def _progress(line: str) -> None:
    err.print(line, style="dim", markup=False, highlight=False)


class ProgressLines:
    """Live progress from Snakemake's events: one line (elapsed, jobs done of total, the rules
    running) each time it changes - the same on a terminal and in a batch log."""

    def __init__(self) -> None:
        self._last = None

    def __call__(self, progress) -> None:
        running = progress.running_rules()
        key = (progress.done, progress.total, tuple(running), len(progress.failed))
        if key == self._last or any(r.startswith("?") for r in running):
            return  # nothing new, or a job whose rule is not named yet (its job_info follows)
        self._last = key
        _progress(progress.line())


def run(
    pipeline: Annotated[
        str, typer.Argument(help="Pipeline to run: combine_redshift, training_set or embedding.")
    ],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Execution profile: local or slurm (or a path).")
    ] = "local",
    workdir: Annotated[
        Path, typer.Option("--workdir", "-w", help="Where results/, logs/ and the registry go.")
    ] = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Show the jobs only.")] = False,
    snakemake_report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="After a successful run, write Snakemake's report here (.html: one offline "
            "page; .zip for large results): summary, QA and plots with captions.",
        ),
    ] = None,
) -> None:
    """Run PIPELINE with a config; outputs are registered as products on success."""
    from pzforge.workflow.runner import explain_failure, run_pipeline

    result = run_pipeline(
        pipeline,
        list(config or []),
        list(set_ or []),
        profile=profile,
        workdir=workdir,
        dry_run=dry_run,
        echo=_progress,
        report=snakemake_report,
        on_progress=ProgressLines(),
    )
    if result.returncode != 0:
        error_line(explain_failure(result))
        print(f"run {result.run_id} failed; Snakemake log: {result.snakemake_log}", file=sys.stderr)
        raise typer.Exit(1)
    if dry_run:
        return
    report(result)


def report(result) -> None:
    """The run's summary (tables at the terminal's width; whole lines in a pipe or a log), its
    id and the products it registered."""
    from pzforge import pipelines
    from pzforge.config import pipeline_of
    from pzforge.io import read_json

    summary = result.results_dir / pipelines.SUMMARY_FILE
    blocks = None
    if summary.is_file():
        blocks = pipelines.summary_tables(pipeline_of(result.config), read_json(summary))
    if blocks:
        print_blocks(blocks)
        out.print()
    elif (result.results_dir / "summary.txt").is_file():
        out.print((result.results_dir / "summary.txt").read_text(), soft_wrap=True)
    receipts = result.layout.receipts
    out.print(f"run id: {result.run_id}")
    if receipts.is_file():
        for data in json.loads(receipts.read_text()):
            state = " (unchanged, already registered)" if data.get("unchanged") else ""
            out.print(f"registered product: {data['internal_name']} (id {data['id']}){state}")
    if getattr(result, "snakemake_report", None):
        out.print(f"Snakemake report: {result.snakemake_report}")


def demo(
    workdir: Annotated[Path, typer.Option("--workdir", "-w", help="Demo directory.")] = Path(
        "demo"
    ),
    profile: Annotated[str, typer.Option("--profile", "-p", help="Execution profile.")] = "local",
) -> None:
    """Combine the bundled sample catalogs (generated deterministically) and register the result."""
    from pzforge.combine import sample_data
    from pzforge.paths import DEFAULT_CONFIG
    from pzforge.products.site import open_registry
    from pzforge.workflow.runner import explain_failure, run_pipeline

    workdir = workdir.resolve()
    # The registry lives in the demo directory unless the site configured one.
    os.environ.setdefault(
        "PZFORGE_REGISTRY_URL", f"sqlite:///{workdir / 'pzforge_registry.sqlite'}"
    )
    paths = sample_data.generate(workdir / "data")
    err.print(f"sample catalogs: {', '.join(p.name for p in paths.values())} in {workdir / 'data'}")
    result = run_pipeline(
        "combine_redshift",
        [DEFAULT_CONFIG],
        profile=profile,
        workdir=workdir,
        base_dir=workdir,
        echo=_progress,
        on_progress=ProgressLines(),
    )
    if result.returncode != 0:
        error_line(explain_failure(result))
        raise typer.Exit(1)
    report(result)
    products = open_registry(result.config["registry"]["url"]).list_products()
    out.print(f"\nproducts in the registry ({len(products)}):")
    for p in products:
        out.print(f"  {p.id:>4}  {p.internal_name}  [{p.product_type}]", markup=False)


def validate_config(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    schema_only: Annotated[
        bool, typer.Option("--schema-only", help="Check keys and values only, not the inputs.")
    ] = False,
) -> None:
    """Check a config (schema, then every input: files, columns, surveys, rules - all problems in
    one pass, as `run` does before any job) and print it with defaults and absolute paths."""
    import yaml

    from pzforge import pipelines
    from pzforge.config import pipeline_of
    from pzforge.paths import DEFAULT_CONFIG

    base = None if config else Path.cwd()  # the demo default's data/ is in the working directory
    resolved = pipelines.load(list(config or [DEFAULT_CONFIG]), list(set_ or []), base_dir=base)
    name = pipeline_of(resolved)
    resolved = pipelines.absolutize_paths(name, resolved, Path.cwd())
    if not schema_only:
        pipelines.preflight(name, resolved)
    out.print(yaml.safe_dump(resolved, sort_keys=False), markup=False, highlight=False)
