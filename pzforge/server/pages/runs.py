"""Pipelines and runs: a form per pipeline made from its config schema (``forms``), submitted
through the same check as ``POST /api/v1/runs``; the runs list (mine / all for admins); a run's
page with its live state (the page's script polls ``/runs/<id>/status.json``), jobs, elapsed time,
log tail and a cancel button, and once it succeeded its products and provenance report."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

import registry
from pzforge import pipelines
from pzforge.config import loading
from pzforge.errors import ConfigError
from pzforge.server.pages import forms, web
from pzforge.server.submissions import check_run

router = APIRouter(include_in_schema=False)
FINISHED = ("success", "failed", "cancelled", "interrupted")
PRODUCT_CHOICES = 500
PER_PAGE = 25


@router.get("/pipelines", response_class=HTMLResponse)
def pipelines_page(request: Request):
    actor = web.need_user(request)
    items = [
        {"name": n, "description": d, "title": loading.load_schema(n).get("title", n)}
        for n, d in pipelines.submittable().items()
    ]
    return web.render(request, "pipelines.html.j2", actor=actor, pipelines=items)


def _pipeline(name: str) -> dict[str, Any]:
    if name not in pipelines.submittable():
        raise registry.NotFound(
            f"no pipeline {name!r}; pipelines: {', '.join(pipelines.submittable())}"
        )
    return loading.load_schema(name)


def _choices(reg: registry.Registry) -> list[tuple[str, str]]:
    rows = reg.list_products(order_by="id", descending=True, limit=PRODUCT_CHOICES)
    return [(str(p.id), f"{p.internal_name} ({p.product_type})") for p in rows]


def _form_page(request, actor, name, values, problems, general, status=200):
    schema = _pipeline(name)
    reg = web.acting(request, actor)
    profiles = request.app.state.settings.profiles
    return web.render(
        request,
        "pipeline.html.j2",
        status,
        actor=actor,
        name=name,
        schema=schema,
        description=pipelines.PIPELINES[name],
        form=forms.render_form(schema, values, problems, _choices(reg)),
        profiles=profiles,
        profile=values.get("profile", profiles[0]),
        general=general,
        problems=problems,
    )


@router.get("/pipelines/{name}", response_class=HTMLResponse)
def pipeline_form(request: Request, name: str):
    actor = web.need_user(request)
    return _form_page(request, actor, name, {}, {}, [])


@router.post("/pipelines/{name}", response_class=HTMLResponse)
async def submit(request: Request, name: str):
    data = await web.form_data(request)
    actor = web.need_user(request)
    schema = _pipeline(name)
    fields = {k: str(v) for k, v in data.items() if k not in (web.CSRF_FIELD, "_form", "profile")}
    config, problems = forms.read_form(schema, fields)
    config["pipeline"] = name
    profile = str(data.get("profile", "")) or None
    general: list[str] = []
    reg = web.acting(request, actor)
    if not problems:
        try:
            config, profile = check_run(reg, request.app.state.settings, name, config, profile)
        except ConfigError as exc:
            known = set(fields) | {
                ".".join(k.split(".")[:i]) for k in fields for i in range(1, k.count(".") + 1)
            }
            placed, general = forms.place_problems(exc.problems, known)
            problems.update(placed)
        except registry.PermissionDenied as exc:
            general = [str(exc)]
    if problems or general:
        values = fields | {"profile": profile or ""}
        return _form_page(request, actor, name, values, problems, general, 422)
    run = reg.submit_run(name, config, profile=profile)
    return web.redirect(request, f"/runs/{run['id']}")


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request):
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    q = request.query_params
    who = q.get("who", "mine")
    who = who if who in ("mine", "all") and (who == "mine" or reg.is_admin) else "mine"
    state = q.get("state", "")
    state = state if state in ("queued", "running", *FINISHED) else ""
    page_arg = q.get("page", "1")
    page = max(int(page_arg), 1) if page_arg.isdigit() and len(page_arg) < 9 else 1
    total, rows = reg.list_queued_runs(
        user=actor.name if who == "mine" else None,
        state=state or None,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    recorded = reg.list_runs(limit=20) if who == "all" or page == 1 else []

    def page_url(n: int) -> str:
        return "/runs?" + urlencode({"who": who, "state": state, "page": n})

    return web.render(
        request,
        "runs.html.j2",
        actor=actor,
        rows=rows,
        total=total,
        who=who,
        state=state,
        states=("queued", "running", *FINISHED),
        is_admin=reg.is_admin,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        page_url=page_url,
        recorded=recorded,
    )


def _status(run: dict[str, Any]) -> dict[str, Any]:
    progress = run.get("progress") or {}
    done, total = progress.get("done") or 0, progress.get("total") or 0
    running = progress.get("running") or []
    elapsed = run.get("elapsed_s")
    return {
        "state": run["state"],
        "done": done,
        "total": total,
        "jobs": f"{done} of {total} jobs done" if total else "jobs not planned yet",
        "running": ", ".join(running) if isinstance(running, list) else str(running),
        "elapsed": f"{elapsed:.0f} s" if elapsed is not None else "not started",
        "log": run.get("log_tail") or "",
        "finished": run["state"] in FINISHED,
    }


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str):
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    run = reg.queued_run(run_id, log=True)
    products = []
    for made in run.get("products") or []:
        ref = made.get("id") if isinstance(made, dict) else made
        try:
            products.append(reg.get_product(ref))
        except (registry.NotFound, registry.PermissionDenied):
            continue
    return web.render(
        request,
        "run.html.j2",
        actor=actor,
        run=run,
        live=_status(run),
        products=products,
        config=run.get("config") or {},
        notice={"cancel": "Cancel asked for."}.get(request.query_params.get("done", "")),
    )


@router.get("/runs/{run_id}/status.json")
def run_status(request: Request, run_id: str):
    """What the run page's script refreshes: state, jobs, rules running, elapsed, log tail."""
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    response = JSONResponse(_status(reg.queued_run(run_id, log=True)))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: str):
    await web.form_data(request)
    actor = web.need_user(request)
    web.acting(request, actor).cancel_run(run_id)  # own runs (admins: any): the registry's
    return web.redirect(request, f"/runs/{run_id}?done=cancel")
