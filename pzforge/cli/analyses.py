"""`pzforge analyses ...` and `pzforge embeddings ...`: external analysis services and embedding
tasks of a shared site (PZFORGE_URL + PZFORGE_TOKEN), through the Python client's verbs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pzforge.cli.render import Format, FormatOpt, out, print_json, render, render_record

analyses_app = typer.Typer(
    help="External analysis services and analyses of products (on a site: PZFORGE_URL).",
    no_args_is_help=True,
)
embeddings_app = typer.Typer(
    help="Embeddings of products as tasks run by the site's workers (PZFORGE_URL).",
    no_args_is_help=True,
)
ANALYSIS_COLUMNS = ["id", "service", "product_id", "user", "status", "created_at", "message"]


def _client():
    from pzforge.client import PzClient

    return PzClient()


def _params(pairs: list[str] | None, file: Path | None) -> dict[str, Any]:
    """--param key=value (values read as JSON when they parse, else text) and --params-file."""
    import yaml

    from pzforge.errors import ConfigError

    params: dict[str, Any] = {}
    if file is not None:
        loaded = yaml.safe_load(file.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: parameters must be a mapping")
        params.update(loaded)
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {pair!r}: write key=value")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A parameter key=value (repeatable).")
]
ParamsFileOpt = Annotated[
    Path | None, typer.Option("--params-file", help="Parameters as YAML or JSON.")
]


@analyses_app.command("services")
def services(fmt: FormatOpt = Format.table) -> None:
    """The analysis services you may use."""
    rows = _client().get_analysis_services()
    render(rows, fmt, ["name", "version", "analysis_type", "input_types", "upload_only", "url"])


@analyses_app.command("register")
def register(
    spec: Annotated[Path, typer.Argument(help="The service as YAML/JSON (docs/analysis.md).")],
    credentials_file: Annotated[
        Path | None,
        typer.Option(help="Its credentials as YAML/JSON (kept out of the spec and the shell)."),
    ] = None,
) -> None:
    """Register a service (admins); its credentials are stored encrypted."""
    import yaml

    fields = yaml.safe_load(spec.read_text())
    if credentials_file is not None:
        fields["credentials"] = yaml.safe_load(credentials_file.read_text())
    svc = _client().register_analysis_service(**fields)
    out.print(f"service {svc['name']} registered (id {svc['id']})")


@analyses_app.command("delete-service")
def delete_service(name: str) -> None:
    """Remove a service (admins or its owner)."""
    _client().delete_analysis_service(name)
    out.print(f"service {name} deleted")


@analyses_app.command("start")
def start(
    product: Annotated[str, typer.Argument(help="Product id or internal name.")],
    service: Annotated[str, typer.Argument(help="Service name.")],
    param: ParamOpt = None,
    params_file: ParamsFileOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result.")] = False,
) -> None:
    """Start an analysis of a product."""
    pz = _client()
    info = pz.start_analysis(product, service, _params(param, params_file))
    out.print(f"analysis {info['id']} {info['status']}")
    if info.get("callback_url"):
        out.print(f"post the results to (once): {info['callback_url']}")
    if wait:
        info = pz.wait_analysis(info["id"])
        out.print(f"analysis {info['id']} {info['status']}: {info['message']}")


@analyses_app.command("show")
def show(analysis_id: int, fmt: FormatOpt = Format.table) -> None:
    """One analysis, with its results."""
    info = _client().get_analysis(analysis_id)
    if fmt is Format.json:
        print_json(info)
        return
    render_record([(k, json.dumps(v) if isinstance(v, dict | list) else v)
                   for k, v in info.items()])  # fmt: skip


@analyses_app.command("list")
def list_analyses(
    product: Annotated[str | None, typer.Option(help="A product's analyses.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Your analyses, or a product's."""
    render(_client().get_analyses(product, status=status), fmt, ANALYSIS_COLUMNS)


@analyses_app.command("cancel")
def cancel(analysis_id: int) -> None:
    """Cancel a pending analysis."""
    info = _client().cancel_analysis(analysis_id)
    out.print(f"analysis {info['id']} {info['status']}")


@analyses_app.command("summary")
def summary(product: str, fmt: FormatOpt = Format.table) -> None:
    """A product's summary: the newest result of each summary service, and the history."""
    info = _client().get_product_summary(product)
    render(info["history"], fmt, ANALYSIS_COLUMNS)


@embeddings_app.command("submit")
def submit(
    product: Annotated[str, typer.Argument(help="The training product (its map).")],
    production: Annotated[str | None, typer.Option(help="Embed this product onto it.")] = None,
    params_file: ParamsFileOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result.")] = False,
) -> None:
    """Submit an embedding task (parameters: the product's stored ones, else the defaults)."""
    pz = _client()
    params = _params(None, params_file) if params_file else None
    task = pz.embed(product, params, production)
    out.print(f"task {task['task_id']} {task['state']}")
    if wait:
        task = pz.wait_embedding(task["task_id"])
        out.print(
            f"task {task['task_id']} {task['state']}{': ' + task['error'] if task['error'] else ''}"
        )


@embeddings_app.command("show")
def show_task(task_id: str) -> None:
    """A task's state and (as JSON) its result."""
    print_json(_client().get_embedding(task_id))


@embeddings_app.command("supported")
def is_supported(product: str) -> None:
    """Whether a product can be embedded, and why not."""
    info = _client().embedding_supported(product)
    out.print(("yes: " if info["supported"] else "no: ") + info["reason"])


@embeddings_app.command("params")
def params(
    product: str,
    set_from: Annotated[Path | None, typer.Option("--set", help="Store these (YAML/JSON).")] = None,
) -> None:
    """A product's stored embedding parameters (``--set FILE`` stores new ones)."""
    pz = _client()
    if set_from is not None:
        print_json(pz.set_embedding_params(product, _params(None, set_from)))
    else:
        print_json(pz.get_embedding_params(product))
