"""`pzforge provenance ...`: runs, jobs, files and lineage as recorded in the registry."""

from __future__ import annotations

import contextlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pzforge.cli.render import (
    Format,
    FormatOpt,
    UrlOpt,
    out,
    print_blocks,
    registry_at,
    render,
    styled,
)

provenance_app = typer.Typer(
    help="Provenance of runs and products: show, report, export, diff, check, lineage.",
    no_args_is_help=True,
)
Ref = Annotated[str, typer.Argument(help="A product (id or internal name) or a run id.")]


class ExportFormat(StrEnum):
    prov_json = "prov-json"
    ro_crate = "ro-crate"


def _resolve(reg, ref: str) -> tuple[str, Any]:
    """('product', id) or ('run', run dict): product ids are integers or internal names."""
    from registry import NotFound

    try:
        return "product", reg.get_product(ref).id
    except NotFound:
        pass
    try:
        return "run", reg.get_run(ref)
    except NotFound:
        raise NotFound(
            f"{ref!r} is neither a product nor a run (`pzforge products list`, "
            "`pzforge provenance runs`)"
        ) from None


@provenance_app.command("runs")
def runs_cmd(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    fmt: FormatOpt = Format.table,
    url: UrlOpt = None,
) -> None:
    """The recorded runs, newest first."""
    rows = registry_at(url).list_runs(pipeline, limit)
    render(rows, fmt, ["id", "pipeline", "run_name", "status", "user", "host", "started_at"])


@provenance_app.command("show")
def show(ref: Ref, fmt: FormatOpt = Format.table, url: UrlOpt = None) -> None:
    """The run (or the run behind a product) - or, for a FILE, the provenance it carries."""
    if Path(ref).exists():
        return show_file(Path(ref), fmt, url)
    reg = registry_at(url)
    kind, value = _resolve(reg, ref)
    info = reg.product_provenance(value) if kind == "product" else None
    run = value if kind == "run" else (reg.get_run(info["run_id"]) if info["run_id"] else None)
    if fmt is Format.json:
        out.print_json(json.dumps({"product": info, "run": run}, default=str))
        return
    if info:
        out.print(styled("[bold]product[/bold] {}", info["product"]["internal_name"]))
        for label, items in (("derived from", info["upstream"]), ("used by", info["downstream"])):
            names = ", ".join(i["internal_name"] for i in items) or "-"
            out.print(f"  {label}: {names}")
    if run is None:
        out.print("no run recorded for this product (uploaded by hand?)")
        return
    _print_run(run)


def show_file(path: Path, fmt: Format, url: str | None) -> None:
    """A bare file's provenance: what it carries inside, plus what a registry knows of it."""
    from pzforge.io.stamps import read_stamp
    from pzforge.products.site import open_registry
    from registry import RegistryError
    from registry.hashing import checksum_path

    stamp = read_stamp(path)
    checksum = checksum_path(path)
    known: dict[str, Any] = {"products": [], "generated_by": []}
    with contextlib.suppress(RegistryError):  # no registry here: the file's stamp is all we have
        known = open_registry(url, auto_create=False).file_provenance(checksum)
    if fmt is Format.json:
        out.print_json(json.dumps({"file": str(path), "stamp": stamp, **known}, default=str))
        return
    out.print(styled("[bold]file[/bold] {}  sha256 {}", path, checksum))
    if stamp is None:
        out.print("  carries no pzforge provenance (made elsewhere, or CSV)")
    else:
        out.print(f"  pipeline {stamp['pipeline']}, run name {stamp['run_name']}, product "
                  f"{stamp['product']}", markup=False)  # fmt: skip
        out.print(f"  config sha256 {stamp['config_sha256']}", markup=False)
        software = ", ".join(f"{k} {v}" for k, v in sorted(stamp.get("software", {}).items()))
        out.print(f"  software: {software}", markup=False)
        for item in stamp.get("inputs", []):
            what = item.get("internal_name") or f"{item.get('name')} ({item.get('format')})"
            extra = f" (product id {item['product_id']})" if item.get("product_id") else ""
            out.print(f"  input: {what}{extra}", markup=False)
    for p in known["products"]:
        out.print(f"  registered as {p['internal_name']} (id {p['id']}), run {p['run_id']}",
                  markup=False)  # fmt: skip
    for j in known["generated_by"]:
        out.print(f"  written by rule {j['rule']} in run {j['run_id']} at {j['ended_at']}",
                  markup=False)  # fmt: skip
    if not known["products"] and not known["generated_by"]:
        out.print("  not known to the registry here", markup=False)


def _print_run(run: dict[str, Any]) -> None:
    from pzforge.provenance.report import job_rows, jobs_table, outputs_table

    colour = "green" if run["status"] == "success" else "red"
    out.print(
        styled(f"[bold]run[/bold] {{}}  {{}} ({{}})  [{colour}]{{}}[/]", run["id"],
               run["pipeline"], run["run_name"], run["status"])
    )  # fmt: skip
    out.print(f"  {run['user']}@{run['host']}  {run['started_at']} -> {run['ended_at']}")
    out.print(f"  profile {run['profile']}, executor {run['executor']}")
    out.print(f"  workflow commit {run['git_commit']}{' (dirty)' if run['git_dirty'] else ''}")
    if run.get("error"):
        out.print(styled("  [red]error:[/red] {}", run["error"]))
    if run.get("overrides"):
        out.print(f"  overrides: {' '.join(run['overrides'])}")
    print_blocks([jobs_table(job_rows(run)), outputs_table(run)])
    for p in run.get("products", []):
        out.print(f"registered: {p['internal_name']} ({p['product_type']})")


@provenance_app.command("report")
def report(
    run_id: Annotated[str, typer.Argument(help="Run id (or a product: its run).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    url: UrlOpt = None,
) -> None:
    """One self-contained HTML page about a run (opens without network)."""
    from pzforge.pipelines import summary_tables
    from pzforge.provenance.report import render_report, report_context

    reg = registry_at(url)
    kind, value = _resolve(reg, run_id)
    if kind == "product":
        rid = reg.product_provenance(value)["run_id"]
        if not rid:
            raise typer.BadParameter("this product has no recorded run")
        value = reg.get_run(rid)
    if getattr(reg, "remote", False):  # the site renders it
        output.write_text(reg.report_html(value["id"]))
        out.print(f"report written to {output}")
        return
    output.write_text(render_report(**report_context(reg, value, summarize=summary_tables)))
    out.print(f"report written to {output}")


@provenance_app.command("export")
def export(
    ref: Ref,
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.prov_json,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File (prov-json) or directory (ro-crate); default stdout/."
        ),
    ] = None,
    url: UrlOpt = None,
) -> None:
    """W3C PROV-JSON, or a detached Workflow Run RO-Crate (Provenance Run Crate profile)."""
    from registry.exports import prov_json, ro_crate

    reg = registry_at(url)
    kind, value = _resolve(reg, ref)
    if getattr(reg, "remote", False):  # the site makes the export from its records
        _remote_export(reg, kind, value if kind == "product" else value["id"], fmt, output)
        return
    if kind == "product":
        data = reg.provenance_for_products([value])
        runs, products, name = list(data["runs"].values()), data["products"], f"product {ref}"
    else:
        data = reg.provenance_for_products([p["id"] for p in value["products"]])
        runs, products, name = [value], data["products"], f"run {value['id']}"
    if fmt is ExportFormat.prov_json:
        text = prov_json(runs, products)
        if output:
            output.write_text(text)
            out.print(f"PROV-JSON written to {output}")
        else:
            print(text)
        return
    path = ro_crate(runs, products, output or Path("."), name=name)
    out.print(f"RO-Crate metadata written to {path}")


def _remote_export(reg, kind: str, ref, fmt: ExportFormat, output: Path | None) -> None:
    if fmt is ExportFormat.prov_json:
        text = reg.prov_json_text(kind, str(ref))
        if output:
            output.write_text(text)
            out.print(f"PROV-JSON written to {output}")
        else:
            print(text)
        return
    folder = output or Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ro-crate-metadata.json"
    path.write_text(json.dumps(reg.ro_crate_metadata(kind, str(ref)), indent=2))
    out.print(f"RO-Crate metadata written to {path}")


@provenance_app.command("diff")
def diff(
    run_a: Annotated[str, typer.Argument(help="Earlier run id.")],
    run_b: Annotated[str, typer.Argument(help="Later run id.")],
    fmt: FormatOpt = Format.table,
    url: UrlOpt = None,
) -> None:
    """What changed between two runs and which outputs differ because of it."""
    from pzforge.provenance.diff import diff_runs, render_diff

    reg = registry_at(url)
    if getattr(reg, "remote", False):
        d = reg.diff(run_a, run_b)
    else:
        d = diff_runs(reg.get_run(run_a), reg.get_run(run_b))
    if fmt is Format.json:
        out.print_json(json.dumps(d, default=str))
    else:
        print(render_diff(d))


@provenance_app.command("check")
def check(
    ref: Annotated[str, typer.Argument(help="Product id or internal name.")], url: UrlOpt = None
) -> None:
    """Re-hash a product's files; exit 1 if any changed or vanished since registration."""
    results = registry_at(url).check_product(ref)
    for r in results:
        state = "ok" if r["ok"] else f"CHANGED ({r['problem']})"
        print(f"{state}: {r['role']} {r['path']}")
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@provenance_app.command("upstream")
def upstream(
    ref: Annotated[str, typer.Argument(help="Product id or internal name.")],
    fmt: FormatOpt = Format.table,
    url: UrlOpt = None,
) -> None:
    """The products this one was made from (transitively)."""
    render(
        registry_at(url).upstream(ref),
        fmt,
        ["depth", "id", "internal_name", "product_type", "run_id"],
    )


@provenance_app.command("downstream")
def downstream(
    ref: Annotated[str, typer.Argument(help="Product id or internal name.")],
    fmt: FormatOpt = Format.table,
    url: UrlOpt = None,
) -> None:
    """The products made from this one (transitively)."""
    render(
        registry_at(url).downstream(ref),
        fmt,
        ["depth", "id", "internal_name", "product_type", "run_id"],
    )
