"""Provenance: recorded runs (also those made with the CLI), a product's run and lineage, the
HTML report, PROV-JSON, RO-Crate, a diff of two runs, and a re-check of a product's files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

import registry
from pzforge.server.auth import acting_registry

router = APIRouter(prefix="/provenance", tags=["provenance"])
Reg = Annotated[registry.Registry, Depends(acting_registry)]
PROV_JSON = "application/json"


@router.get("/runs")
def runs(
    reg: Reg,
    pipeline: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Recorded runs, newest first."""
    return reg.list_runs(pipeline, limit)


@router.get("/runs/{run_id}")
def run(run_id: str, reg: Reg) -> dict[str, Any]:
    """A run: config (secrets masked), software, jobs with their files, products registered."""
    return reg.get_run(run_id)


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
def report(run_id: str, reg: Reg) -> str:
    """One self-contained HTML page about a run (works offline)."""
    from pzforge.pipelines import summary_tables
    from pzforge.provenance.report import render_report, report_context

    return render_report(**report_context(reg, reg.get_run(run_id), summarize=summary_tables))


@router.get("/runs/{run_id}/prov-json")
def run_prov_json(run_id: str, reg: Reg) -> Response:
    """The run as W3C PROV-JSON."""
    from registry.exports import prov_json

    value = reg.get_run(run_id)
    data = reg.provenance_for_products([p["id"] for p in value["products"]])
    return Response(prov_json([value], data["products"]), media_type=PROV_JSON)


@router.get("/runs/{run_id}/ro-crate")
def run_ro_crate(run_id: str, reg: Reg) -> dict[str, Any]:
    """The run as a detached Workflow Run RO-Crate (its ro-crate-metadata.json)."""
    value = reg.get_run(run_id)
    data = reg.provenance_for_products([p["id"] for p in value["products"]])
    return _crate([value], data["products"], f"run {value['id']}")


@router.get("/diff")
def diff(
    reg: Reg,
    run_a: Annotated[str, Query(max_length=64)],
    run_b: Annotated[str, Query(max_length=64)],
) -> dict[str, Any]:
    """What changed between two runs and which outputs differ because of it."""
    from pzforge.provenance.diff import diff_runs

    return json.loads(json.dumps(diff_runs(reg.get_run(run_a), reg.get_run(run_b)), default=str))


@router.get("/products/{ref}")
def product(ref: str, reg: Reg) -> dict[str, Any]:
    """The run and jobs that made a product, and its lineage (upstream and downstream)."""
    info = reg.product_provenance(ref)
    info["run"] = reg.get_run(info["run_id"]) if info["run_id"] else None
    return info


@router.get("/products/{ref}/prov-json")
def product_prov_json(ref: str, reg: Reg) -> Response:
    return Response(reg.export_prov_json([reg.get_product(ref).id]), media_type=PROV_JSON)


@router.get("/products/{ref}/ro-crate")
def product_ro_crate(ref: str, reg: Reg) -> dict[str, Any]:
    data = reg.provenance_for_products([reg.get_product(ref).id])
    return _crate(list(data["runs"].values()), data["products"], f"product {ref}")


@router.post("/products/{ref}/check")
def check(ref: str, reg: Reg) -> dict[str, Any]:
    """Re-hash the product's files: each one ok, or what changed since registration."""
    results = reg.check_product(ref)
    for r in results:
        r.pop("path", None)  # where files are on the server is not shown
    return {"ok": all(r["ok"] for r in results), "files": results}


def _crate(runs: list[dict[str, Any]], products: list[dict[str, Any]], name: str) -> dict:
    from registry.exports import ro_crate

    with tempfile.TemporaryDirectory() as tmp:
        path = ro_crate(runs, products, Path(tmp), name=name)
        return json.loads(Path(path).read_text())
