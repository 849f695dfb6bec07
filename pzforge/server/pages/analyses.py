"""A product's analyses on its page, and the form that starts one.

The product page's Analyses section (``section``) lists the analyses of the product (anyone who
may read it sees them), with Cancel for one's own pending ones, the product's summary and its
history, and the services the user may start on it. The form (``/products/{ref}/analyses/new``)
is made from the service's parameter schema by ``forms`` (as the pipelines' run forms are); a
start goes through ``server.analyses.start``, the API's own code path, and the service is called
after the browser has been sent back to the product page.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from starlette.background import BackgroundTask

import registry
from pzforge.server import analyses
from pzforge.server.auth import Actor
from pzforge.server.pages import forms, web

router = APIRouter(include_in_schema=False)
AnalysisId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# a status as people read it, and the style of its badge
STATUS = {
    "pending": ("pending", "queued"),
    "received": ("receiving results", "running"),
    "success": ("completed", "success"),
    "failure": ("failed", "failed"),
    "timed_out": ("timed out", "timed_out"),
    "cancelled": ("cancelled", "cancelled"),
}
MAX_VALUES = 60  # of a summary's results shown on the page (the product holds them all)
MAX_TABLE_ROWS = 50


def _product(request: Request, ref: str) -> tuple[Actor, registry.Registry, Any]:
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    return actor, reg, reg.get_product(ref)


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return web.cell(value)
    if isinstance(value, str):
        return value
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def results_view(results: dict[str, Any]) -> dict[str, list]:
    """A service's JSON results as the page shows them: scalars (nested keys dotted) as
    name/value rows, lists of records as tables, anything else as short JSON."""
    values: list[tuple[str, str]] = []
    tables: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                walk(value, name + ".")
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                columns = list(dict.fromkeys(k for v in value for k in v))
                rows = [[_shown(v.get(c, "")) for c in columns] for v in value[:MAX_TABLE_ROWS]]
                tables.append({"name": name, "columns": columns, "rows": rows,
                               "more": max(len(value) - MAX_TABLE_ROWS, 0)})  # fmt: skip
            elif len(values) < MAX_VALUES:
                values.append((name, _shown(value)))

    walk(results, "")
    return {"values": values, "tables": tables}


def _row(a: dict[str, Any], names: dict[str, str], made: dict[int, str], actor: Actor):
    label, style = STATUS.get(a["status"], (a["status"], a["status"]))
    params = ", ".join(f"{k}={_shown(v)}" for k, v in sorted(a["parameters"].items()))
    return a | {
        "display_name": names.get(a["service"]) or a["service"],
        "label": label,
        "style": style,
        "params": params,
        "result_name": made.get(a["result_product_id"] or 0),
        "can_cancel": a["status"] == "pending" and (a["user"] == actor.name or actor.is_admin),
    }


def section(
    reg: registry.Registry, actor: Actor, detail: Any, downstream: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the product page's Analyses section shows: the analyses, the summary with its
    history, and the services the user may start on this product's type."""
    names = {s["name"]: s["display_name"] for s in reg.list_services()}
    made = {d["id"]: d["internal_name"] for d in downstream}  # results the viewer may read
    rows = [_row(a, names, made, actor) for a in reg.list_analyses(product=detail.id)]
    summary = reg.product_summary(detail.id)
    current = [
        _row(a, names, made, actor) | results_view(a["results"])
        for a in summary["current"].values()
    ]
    shown = {a["id"] for a in current}
    earlier = [_row(a, names, made, actor) for a in summary["history"] if a["id"] not in shown]
    return {
        "analyses": rows,
        "summary": current,
        "summary_earlier": earlier,
        "services": reg.list_services(product_type=detail.product_type),
    }


def _service(services: list[dict[str, Any]], name: str, detail: Any) -> dict[str, Any]:
    found = next((s for s in services if s["name"] == name), None)
    if found is None:
        raise registry.NotFound(
            f"no analysis service {name!r} that you may use takes a {detail.product_type}"
        )
    return found


def _form_page(
    request: Request,
    actor: Actor,
    detail: Any,
    services: list[dict[str, Any]],
    service: dict[str, Any] | None,
    values: dict[str, str],
    problems: dict[str, str],
    general: list[str],
    status: int = 200,
) -> HTMLResponse:
    form = forms.render_form(service["parameters"], values, problems, []) if service else ""
    return web.render(
        request,
        "analysis_new.html.j2",
        status,
        actor=actor,
        p=detail,
        services=services,
        service=service,
        form=form,
        problems=problems,
        general=general,
    )


@router.get("/products/{ref}/analyses/new", response_class=HTMLResponse)
def new_analysis(request: Request, ref: str):
    """The services that take this product (to choose one), then the chosen one's form."""
    actor, reg, detail = _product(request, ref)
    services = reg.list_services(product_type=detail.product_type)
    name = request.query_params.get("service", "")
    if not name and len(services) == 1:
        name = services[0]["name"]
    service = _service(services, name, detail) if name else None
    return _form_page(request, actor, detail, services, service, {}, {}, [])


def _place(found: dict[str, str], fields: set[str]) -> tuple[dict[str, str], list[str]]:
    """Problems by parameter: next to their fields, or (no such field) listed above the form."""
    placed = {k: v for k, v in found.items() if k in fields}
    rest = [f"{k}: {v}" if k else v for k, v in found.items() if k not in fields]
    return placed, rest


@router.post("/products/{ref}/analyses/new", response_class=HTMLResponse)
async def start_analysis(request: Request, ref: str):
    """Start the analysis the form describes; problems are shown next to their fields and
    nothing is started. On success, back to the product page (the service is called after)."""
    data = await web.form_data(request)
    actor, reg, detail = _product(request, ref)
    services = reg.list_services(product_type=detail.product_type)
    service = _service(services, request.query_params.get("service", ""), detail)
    schema = service["parameters"]
    fields = {k: str(v) for k, v in data.items() if k not in (web.CSRF_FIELD, "_form")}
    parameters, problems = forms.read_form(schema, fields)
    known = set(fields) | set(schema.get("properties", {}))
    general: list[str] = []
    if problems:  # unreadable fields: say what else is wrong too, start nothing
        placed, general = _place(analyses.parameter_problems(schema, parameters), known)
        problems = placed | problems
    else:
        try:
            started = analyses.start(
                reg, request.app.state.vault, request.app.state.settings,
                str(request.base_url), service["name"], detail.id, parameters,
            )  # fmt: skip
        except (registry.ValidationError, registry.LimitReached) as exc:
            found = getattr(exc, "fields", None)
            problems, general = _place(found, known) if found else ({}, [str(exc)])
    if problems or general:
        return _form_page(request, actor, detail, services, service, fields, problems, general, 422)
    if started.send is None:  # upload-only: the address to post results to, shown this once
        return web.render(
            request, "analysis_started.html.j2", actor=actor, p=detail, service=service,
            analysis=started.analysis, callback_url=started.callback_url,
        )  # fmt: skip
    response = web.redirect(request, f"/products/{detail.internal_name}?done=analysis#analyses")
    response.background = BackgroundTask(started.send)
    return response


@router.post("/products/{ref}/analyses/{analysis_id}/cancel")
async def cancel_analysis(request: Request, ref: str, analysis_id: AnalysisId):
    """Cancel a pending analysis of this product (its user or an admin: the registry's rule)."""
    await web.form_data(request)
    _actor, reg, detail = _product(request, ref)
    if reg.get_analysis(analysis_id)["product_id"] != detail.id:
        raise registry.NotFound(f"product {detail.internal_name} has no analysis {analysis_id}")
    done = reg.cancel_analysis(analysis_id)
    outcome = "analysis_cancelled" if done["status"] == "cancelled" else "analysis_finished"
    return web.redirect(request, f"/products/{detail.internal_name}?done={outcome}#analyses")
