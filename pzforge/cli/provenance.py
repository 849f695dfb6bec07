"""`pzforge provenance ...`: runs, jobs, files and lineage as recorded in the registry."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pzforge.cli.render import Format, FormatOpt, UrlOpt, out, registry_at, render

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
    """The run (or the run behind a product): config, jobs and files."""
    reg = registry_at(url)
    kind, value = _resolve(reg, ref)
    info = reg.product_provenance(value) if kind == "product" else None
    run = value if kind == "run" else (reg.get_run(info["run_id"]) if info["run_id"] else None)
    if fmt is Format.json:
        out.print_json(json.dumps({"product": info, "run": run}, default=str))
        return
    if info:
        out.print(f"[bold]product[/bold] {info['product']['internal_name']}")
        for label, items in (("derived from", info["upstream"]), ("used by", info["downstream"])):
            names = ", ".join(i["internal_name"] for i in items) or "-"
            out.print(f"  {label}: {names}")
    if run is None:
        out.print("no run recorded for this product (uploaded by hand?)")
        return
    _print_run(run)


def _print_run(run: dict[str, Any]) -> None:
    from pzforge.provenance.report import short_reason

    out.print(
        f"[bold]run[/bold] {run['id']}  {run['pipeline']} ({run['run_name']})  "
        f"[{'green' if run['status'] == 'success' else 'red'}]{run['status']}[/]"
    )
    out.print(f"  {run['user']}@{run['host']}  {run['started_at']} -> {run['ended_at']}")
    out.print(f"  profile {run['profile']}, executor {run['executor']}")
    out.print(f"  workflow commit {run['git_commit']}{' (dirty)' if run['git_dirty'] else ''}")
    if run.get("error"):
        out.print(f"  [red]error:[/red] {run['error']}", markup=True)
    if run.get("overrides"):
        out.print(f"  overrides: {' '.join(run['overrides'])}")
    table = Table(title="jobs")
    widest = max((len(j["rule"]) for j in run["jobs"]), default=4)
    table.add_column("rule", no_wrap=True, min_width=widest)  # rule names are never cut
    for col in ("wildcards", "status", "wall s", "max RSS MB", "node"):
        table.add_column(col)
    table.add_column("reason", overflow="fold")
    for j in run["jobs"]:
        b = j.get("benchmark") or {}
        table.add_row(
            j["rule"],
            ",".join(f"{k}={v}" for k, v in sorted(j["wildcards"].items())),
            j["status"],
            str(b.get("wall_s") or ""),
            str(b.get("max_rss_mb") or ""),
            j.get("node") or j.get("host") or "",
            short_reason(j.get("reason")),
        )
    out.print(table)
    files = Table(title="files made")
    files.add_column("path", overflow="fold")
    files.add_column("bytes", justify="right")
    files.add_column("sha256", no_wrap=True)
    for j in run["jobs"]:
        for f in j.get("files", []):
            if f["role"] == "generated":
                files.add_row(f["path"], str(f["size"]), f["checksum"][:16] + "…")
    out.print(files)
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
    from pzforge.provenance.report import render_report

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
    previous = reg.previous_run(value["id"])
    lineage = [reg.product_provenance(p["id"]) for p in value["products"]]
    output.write_text(render_report(value, previous, lineage))
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
