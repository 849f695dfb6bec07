"""Pipelines and their runs: submit (checked against the pipeline's schema before it is queued),
follow (state, live progress, log tail), cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

import registry
from pzforge import pipelines
from pzforge.config import loading
from pzforge.server import models
from pzforge.server.auth import acting_registry
from pzforge.server.submissions import check_run

router = APIRouter(tags=["runs"])
Reg = Annotated[registry.Registry, Depends(acting_registry)]


@router.get("/pipelines", response_model=list[models.Pipeline])
def list_pipelines(reg: Reg) -> list[dict[str, Any]]:
    """The pipelines a run can be asked for."""
    return [{"name": n, "description": d} for n, d in pipelines.submittable().items()]


@router.get("/pipelines/{name}/schema")
def pipeline_schema(name: str, reg: Reg) -> dict[str, Any]:
    """A pipeline's config schema (JSON Schema 2020-12): every key with its description."""
    if name not in pipelines.submittable():
        from registry import NotFound

        raise NotFound(f"no pipeline {name!r}; pipelines: {', '.join(pipelines.submittable())}")
    return loading.load_schema(name)


@router.post(
    "/runs",
    response_model=models.QueuedRun,
    status_code=201,
    responses={422: {"model": models.Problem}, 403: {"model": models.Problem}},
)
def submit_run(body: models.RunRequest, reg: Reg, request: Request) -> dict[str, Any]:
    """Queue a run of a pipeline for you. The config is checked first: every problem is listed
    (422); inputs are registry products you can read. A worker picks the run up and runs it as
    ``pzforge run`` does; its id is also the id of its provenance."""
    config, profile = check_run(
        reg, request.app.state.settings, body.pipeline, body.config, body.profile
    )
    return reg.submit_run(body.pipeline, config, profile=profile)


@router.get("/runs", response_model=models.RunPage)
def list_runs(
    reg: Reg,
    state: models.RunState | None = None,
    user: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """Your runs, newest first (admins: anyone's, or one user's)."""
    total, rows = reg.list_queued_runs(user=user, state=state, limit=limit, offset=offset)
    return {"count": total, "limit": limit, "offset": offset, "results": rows}


@router.get("/runs/{run_id}", response_model=models.QueuedRun)
def get_run(run_id: str, reg: Reg) -> dict[str, Any]:
    """A run's state and live progress: jobs done of total, the rules running, elapsed time."""
    return reg.queued_run(run_id)


@router.get("/runs/{run_id}/log", response_class=PlainTextResponse)
def run_log(run_id: str, reg: Reg, lines: Annotated[int, Query(ge=1, le=5000)] = 200) -> str:
    """The last lines of the run's Snakemake log."""
    tail = reg.queued_run(run_id, log=True)["log_tail"] or ""
    return "\n".join(tail.splitlines()[-lines:]) + ("\n" if tail else "")


@router.post("/runs/{run_id}/cancel", response_model=models.QueuedRun)
def cancel_run(run_id: str, reg: Reg) -> dict[str, Any]:
    """Cancel a run: a queued one at once, a running one as soon as its worker hears of it."""
    return reg.cancel_run(run_id)
