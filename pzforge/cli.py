"""The ``pzforge`` command: run pipelines, inspect survey rules, manage products."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pzforge.errors import PzforgeError

app = typer.Typer(
    help="pzforge: photo-z data-product pipelines (Snakemake + HATS/lsdb) with a product registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
surveys_app = typer.Typer(help="Survey quality-flag homogenization rules.", no_args_is_help=True)
app.add_typer(surveys_app, name="surveys")
console = Console(stderr=True)
out = Console()

_state = {"debug": False}

from pzforge.cli_products import db_app, products_app  # noqa: E402
from pzforge.cli_provenance import provenance_app  # noqa: E402

app.add_typer(products_app, name="products")
app.add_typer(db_app, name="db")
app.add_typer(provenance_app, name="provenance")


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug


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


@app.command()
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
) -> None:
    """Run PIPELINE with a config; outputs are registered as products on success."""
    from pzforge.runner import explain_failure, run_pipeline

    result = run_pipeline(
        pipeline,
        list(config or []),
        list(set_ or []),
        profile=profile,
        workdir=workdir,
        dry_run=dry_run,
        echo=lambda line: console.print(f"[dim]{line}[/dim]"),
    )
    if result.returncode != 0:
        _error(explain_failure(result))
        print(f"run {result.run_id} failed; Snakemake log: {result.snakemake_log}", file=sys.stderr)
        raise typer.Exit(1)
    if dry_run:
        return
    _report(result)


def _error(message: str) -> None:
    """One unwrapped line on stderr (logs and tests read it whole)."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def _report(result) -> None:
    summary = result.results_dir / "summary.txt"
    if summary.is_file():
        out.print(summary.read_text(), markup=False, highlight=False)
    receipts = result.results_dir / "registry" / "products.json"
    out.print(f"run id: {result.run_id}")
    if receipts.is_file():
        for data in json.loads(receipts.read_text()):
            state = " (unchanged, already registered)" if data.get("unchanged") else ""
            out.print(f"registered product: {data['internal_name']} (id {data['id']}){state}")


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option("--workdir", "-w", help="Demo directory.")] = Path(
        "demo"
    ),
    profile: Annotated[str, typer.Option("--profile", "-p", help="Execution profile.")] = "local",
) -> None:
    """Combine the bundled sample catalogs (generated deterministically) and register the result."""
    import os

    from pzforge import sample_data
    from pzforge.config import CONFIG_DIR
    from pzforge.runner import explain_failure, run_pipeline

    workdir = workdir.resolve()
    # The registry lives in the demo directory unless the site configured one.
    os.environ.setdefault(
        "PZFORGE_REGISTRY_URL", f"sqlite:///{workdir / 'pzforge_registry.sqlite'}"
    )
    paths = sample_data.generate(workdir / "data")
    console.print(
        f"sample catalogs: {', '.join(p.name for p in paths.values())} in {workdir / 'data'}"
    )
    result = run_pipeline(
        "combine_redshift",
        [CONFIG_DIR / "config.yaml"],
        profile=profile,
        workdir=workdir,
        base_dir=workdir,
        echo=lambda line: console.print(f"[dim]{line}[/dim]"),
    )
    if result.returncode != 0:
        _error(explain_failure(result))
        raise typer.Exit(1)
    _report(result)
    try:
        from registry import Registry

        reg = Registry.from_url(result.config["registry"]["url"])
        products = reg.list_products()
        out.print(f"\nproducts in the registry ({len(products)}):")
        for p in products:
            out.print(f"  {p.id:>4}  {p.internal_name}  [{p.product_type}]")
    except ImportError:  # pragma: no cover
        pass


@app.command("validate-config")
def validate_config_cmd(
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Check a config against its schema and print it with defaults filled in."""
    import yaml

    from pzforge.config import CONFIG_DIR, load_config

    resolved = load_config(list(config or [CONFIG_DIR / "config.yaml"]), list(set_ or []))
    out.print(yaml.safe_dump(resolved, sort_keys=False), markup=False, highlight=False)


def _rulebook(surveys_file: Path | None):
    from pzforge.config import CONFIG_DIR
    from pzforge.homogenize import RuleBook

    return RuleBook.load(surveys_file or CONFIG_DIR / "surveys.yaml")


SurveysFileOpt = Annotated[
    Path | None, typer.Option("--surveys-file", help="Rules file (default config/surveys.yaml).")
]


@surveys_app.command("list")
def surveys_list(surveys_file: SurveysFileOpt = None) -> None:
    """List the surveys that have homogenization rules."""
    for name in _rulebook(surveys_file).known_surveys():
        out.print(name)


@surveys_app.command("explain")
def surveys_explain(
    survey: Annotated[str, typer.Argument(help="Survey name or alias, e.g. VVDS or 2dfgrs.")],
    surveys_file: SurveysFileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rule as JSON.")] = False,
) -> None:
    """Show how SURVEY's quality flags and types are translated."""
    book = _rulebook(surveys_file)
    if as_json:
        out.print_json(json.dumps(book.to_dict(survey)))
    else:
        out.print(book.explain(survey), markup=False, highlight=False)


def main() -> None:
    """Entry point: user errors print one line (no traceback unless --debug) and exit 1."""
    try:
        code = app(standalone_mode=False)  # returns Exit codes instead of raising them
        if isinstance(code, int) and code:
            sys.exit(code)
    except PzforgeError as exc:
        if _state["debug"] or "--debug" in sys.argv:
            raise
        _error(str(exc))
        sys.exit(1)
    except Exception as exc:  # registry errors and click usage errors
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if type(exc).__module__.startswith("registry") and not (
            _state["debug"] or "--debug" in sys.argv
        ):
            _error(str(exc))
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
