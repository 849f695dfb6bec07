"""The home page, the product list, a product's page (and its edit, delete, official, download;
its Analyses section comes from ``analyses``), and a run's provenance report inside the site."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

import registry
from pzforge.server.pages import analyses, lineage, web
from registry.names import check_name

router = APIRouter(include_in_schema=False)
SORTS = {
    "id": "id",
    "name": "name",
    "created_at": "created",
    "owner": "owner",
    "type": "type",
}
PER_PAGE = (25, 50, 100, 200)
PREVIEW_ROWS = 10
PREVIEW_COLUMNS = 30
PREVIEW_MAX_BYTES = 50 * 2**20


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    actor = web.viewer(request)
    context: dict[str, Any] = {"actor": actor, "recent": [], "counts": None}
    if actor is not None:
        reg = web.acting(request, actor)
        context["recent"] = reg.list_products(order_by="created_at", descending=True, limit=8)
        context["counts"] = {
            "products": reg.count_products(),
            "official": reg.count_products(official=True),
            "types": reg.product_types(),
        }
        _total, runs = reg.list_queued_runs(limit=5, offset=0)
        context["runs"] = runs
    return web.render(request, "home.html.j2", **context)


def _date(value: str, problems: dict[str, str], field: str, label: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time())
    except ValueError:
        problems[field] = f"{label}: use a date like 2026-01-31"
        return None


@router.get("/products", response_class=HTMLResponse)
def product_list(request: Request):
    """Search, filter, sort and page through products; every filter is a query parameter (the
    URL can be shared), every page one SQL query with LIMIT/OFFSET (and one count)."""
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    q = request.query_params
    problems: dict[str, str] = {}
    types = [t["name"] for t in reg.product_types()]
    releases = [r["name"] for r in reg.releases() if reg.release_open(r["name"])]
    form = {
        "name": q.get("name", "").strip()[:200],
        "type": q.get("type", ""),
        "release": q.get("release", ""),
        "owner": q.get("owner", "").strip()[:100],
        "official": q.get("official", ""),
        "after": q.get("after", ""),
        "before": q.get("before", ""),
        "sort": q.get("sort", "id"),
        "order": q.get("order", "desc"),
        "per_page": q.get("per_page", "50"),
    }
    if form["type"] and form["type"] not in types:
        problems["type"] = f"no product type {form['type']!r}"
    if form["release"] and form["release"] not in releases:
        problems["release"] = f"no release {form['release']!r} that you can see"
    if form["sort"] not in SORTS:
        problems["sort"] = "sort by one of the listed columns"
        form["sort"] = "id"
    per_page = int(form["per_page"]) if form["per_page"].isdigit() else 50
    per_page = per_page if per_page in PER_PAGE else 50
    page_arg = q.get("page", "1")
    page = max(int(page_arg), 1) if page_arg.isdigit() and len(page_arg) < 9 else 1
    filters = {
        "product_type": form["type"] if "type" not in problems else None,
        "release": form["release"] if "release" not in problems else None,
        "name": form["name"] or None,
        "owner": form["owner"] or None,
        "official": {"yes": True, "no": False}.get(form["official"]),
        "created_after": _date(form["after"], problems, "after", "created from"),
        "created_before": _date(form["before"], problems, "before", "created before"),
    }
    offset = (page - 1) * per_page
    rows = reg.list_products(
        **filters,
        order_by=form["sort"],
        descending=form["order"] != "asc",
        limit=per_page,
        offset=offset,
    )
    if len(rows) < per_page and (rows or offset == 0):
        count = offset + len(rows)  # the last page: no count query needed
    else:
        count = reg.count_products(**filters)
    pages = max((count + per_page - 1) // per_page, 1)
    kept = {k: v for k, v in form.items() if v and k != "per_page"} | {"per_page": per_page}

    def page_url(n: int) -> str:
        return "/products?" + urlencode(kept | {"page": n})

    def sort_url(column: str) -> str:
        order = "asc" if form["sort"] == column and form["order"] != "asc" else "desc"
        return "/products?" + urlencode(kept | {"sort": column, "order": order})

    return web.render(
        request,
        "products.html.j2",
        actor=actor,
        rows=rows,
        form=form,
        problems=problems,
        types=types,
        releases=releases,
        sorts=SORTS,
        per_page_choices=PER_PAGE,
        per_page=per_page,
        page=page,
        pages=pages,
        count=count,
        first=offset + 1 if rows else 0,
        last=offset + len(rows),
        page_url=page_url,
        sort_url=sort_url,
        notice=q.get("deleted") and f"Deleted {q.get('deleted')[:250]}.",
    )


def _preview(reg: registry.Registry, detail: registry.ProductDetail) -> dict[str, Any] | None:
    main = next((f for f in detail.files if f.role == "main"), None)
    if main is None or main.format not in registry.formats.TABULAR:
        return None
    if main.size > PREVIEW_MAX_BYTES:
        return {"note": f"The main file is {web.size(main.size)}: download it to look inside."}
    try:
        df = reg.get_dataframe(detail.id).head(PREVIEW_ROWS)
    except registry.RegistryError as exc:
        return {"note": f"No preview: {exc}"}
    columns = [str(c) for c in df.columns[:PREVIEW_COLUMNS]]
    rows = [[web.cell(v) for v in r] for r in df.iloc[:, :PREVIEW_COLUMNS].itertuples(index=False)]
    more = len(df.columns) - len(columns)
    note = f"{more} more columns are not shown." if more > 0 else ""
    return {"columns": columns, "rows": rows, "note": note}


IMAGES = ("image/png", "image/svg+xml", "image/jpeg", "image/gif")
FILE_CSP = (
    "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data: blob:; frame-ancestors 'self'"
)


def _plots(detail: registry.ProductDetail) -> dict[str, list[dict[str, Any]]]:
    """The product's auxiliary images (QA and training-set plots) and HTML pages (the
    embedding's interactive plot), with the URL each is served at."""
    images, pages = [], []
    for i, f in enumerate(detail.files):
        if f.role == "main" or f.n_members > 1:
            continue
        item = {"name": f.name, "url": f"/products/{detail.internal_name}/files/{i}"}
        kind = _media_type(f)
        if kind in IMAGES:
            images.append(item)
        elif kind == "text/html":
            pages.append(item)
    return {"images": images, "pages": pages}


def _media_type(f: registry.FileInfo) -> str:
    import mimetypes

    guessed, _ = mimetypes.guess_type(f.name or "")
    return guessed or f.media_type or "application/octet-stream"


def _run_of(reg: registry.Registry, run_id: str | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    try:
        run = reg.get_run(run_id)
    except registry.NotFound:
        return {"id": run_id, "pipeline": "?", "status": "not recorded"}
    return {k: run.get(k) for k in ("id", "pipeline", "status", "started_at", "ended_at", "user")}


NOTICES = {
    "saved": "Saved.",
    "official": "Official flag changed.",
    "uploaded": "Uploaded and registered.",
    "analysis": "Analysis started. It is pending until its service sends the results back: "
    "reload this page to see them.",
    "analysis_cancelled": "Analysis cancelled.",
    "analysis_finished": "That analysis had already ended: there was nothing to cancel.",
}


def _detail(request: Request, ref: str):
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    return actor, reg, reg.get_product(ref)


@router.get("/products/{ref}", response_class=HTMLResponse)
def product_page(request: Request, ref: str):
    actor, reg, detail = _detail(request, ref)
    versions = reg.product_versions(detail.id)
    up, down = reg.upstream(detail.id), reg.downstream(detail.id)
    share_url = str(request.url_for("product_page", ref=detail.internal_name))
    return web.render(
        request,
        "product.html.j2",
        actor=actor,
        p=detail,
        files=detail.files,
        columns=detail.columns,
        versions=versions,
        upstream=up,
        downstream=down,
        graph=lineage.svg(detail, up, down),
        run=_run_of(reg, detail.run_id),
        preview=_preview(reg, detail),
        plots=_plots(detail),
        can_edit=reg.may_edit(detail.id),
        is_admin=reg.is_admin,
        share_url=share_url,
        notice=NOTICES.get(request.query_params.get("done", "")),
        **analyses.section(reg, actor, detail, down),
    )


@router.get("/products/{ref}/files/{index}")
def product_file(request: Request, ref: str, index: int):
    """One of a product's files (a plot, a page), checked against its registered size and time
    first. HTML is served sandboxed (its own scripts run, without the site's origin)."""
    from fastapi.responses import FileResponse

    _actor, reg, detail = _detail(request, ref)
    if not 0 <= index < len(detail.files) or detail.files[index].n_members > 1:
        raise registry.NotFound(f"product {detail.internal_name} has no file {index}")
    f = detail.files[index]
    reg.verify(detail.id, roles=(f.role,))
    kind = _media_type(f)
    inline = kind in IMAGES or kind == "text/html"
    response = FileResponse(
        f.path,
        media_type=kind,
        filename=f.name,
        content_disposition_type="inline" if inline else "attachment",
    )
    response.headers["Content-Security-Policy"] = FILE_CSP if kind == "text/html" else web.CSP
    response.headers.update(web.HEADERS)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@router.post("/products/{ref}/download")
async def download(request: Request, ref: str):
    """A signed link to the product's zip, made for the user; the browser follows it."""
    await web.form_data(request)
    actor, reg, detail = _detail(request, ref)
    token, _expires = request.app.state.links.make(detail, actor.name)
    return RedirectResponse(str(request.url_for("download", token=token)), status_code=303)


def _edit_form(request: Request, ref: str):
    actor, reg, detail = _detail(request, ref)
    if not reg.may_edit(detail.id):
        raise registry.PermissionDenied(
            f"{actor.name} may not change {detail.internal_name}: only its owner "
            f"({detail.owner}) or an admin can"
        )
    releases = [r["name"] for r in reg.releases() if reg.release_open(r["name"])]
    return actor, reg, detail, releases


@router.get("/products/{ref}/edit", response_class=HTMLResponse)
def edit_page(request: Request, ref: str):
    actor, _reg, detail, releases = _edit_form(request, ref)
    form = {"name": detail.name, "description": detail.description, "release": detail.release}
    return web.render(
        request, "edit.html.j2", actor=actor, p=detail, form=form, releases=releases, problems={}
    )


@router.post("/products/{ref}/edit", response_class=HTMLResponse)
async def edit_save(request: Request, ref: str):
    data = await web.form_data(request)
    actor, reg, detail, releases = _edit_form(request, ref)
    form = {
        "name": str(data.get("name", "")),
        "description": str(data.get("description", "")),
        "release": str(data.get("release", "")) or None,
    }
    problems: dict[str, str] = {}
    try:
        check_name(form["name"])
    except registry.ValidationError as exc:
        problems["name"] = str(exc)
    if form["release"] and form["release"] not in releases:
        problems["release"] = f"no release {form['release']!r} you may add products to"
    if len(form["description"]) > 50_000:
        problems["description"] = "at most 50,000 characters"
    if not problems:
        try:
            reg.update(
                detail.id,
                name=form["name"],
                description=form["description"],
                release=form["release"],
            )
        except registry.ValidationError as exc:
            problems["name"] = str(exc)
    if problems:
        return web.render(
            request,
            "edit.html.j2",
            422,
            actor=actor,
            p=detail,
            form=form,
            releases=releases,
            problems=problems,
        )
    return web.redirect(request, f"/products/{detail.internal_name}?done=saved")


@router.get("/products/{ref}/delete", response_class=HTMLResponse)
def delete_page(request: Request, ref: str):
    actor, _reg, detail, _releases = _edit_form(request, ref)
    return web.render(request, "delete.html.j2", actor=actor, p=detail)


@router.post("/products/{ref}/delete")
async def delete(request: Request, ref: str):
    await web.form_data(request)
    _actor, reg, detail = _detail(request, ref)
    reg.delete(detail.id)  # the registry checks: owner or admin
    return web.redirect(request, "/products?" + urlencode({"deleted": detail.internal_name}))


@router.post("/products/{ref}/official")
async def official(request: Request, ref: str):
    data = await web.form_data(request)
    _actor, reg, detail = _detail(request, ref)
    reg.set_official(detail.id, data.get("official") == "true")  # admins only: the registry's
    return web.redirect(request, f"/products/{detail.internal_name}?done=official")


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
def report_page(request: Request, run_id: str):
    """The run's provenance report (the same one ``pzforge provenance report`` writes), inside
    the site's layout."""
    from pzforge.pipelines import summary_tables
    from pzforge.provenance.report import render_report, report_context

    actor = web.need_user(request)
    reg = web.acting(request, actor)
    run = reg.get_run(run_id)  # the same answer as the API's report
    body = render_report(**report_context(reg, run, summarize=summary_tables), fragment=True)
    return web.render(
        request,
        "report.html.j2",
        csp=web.REPORT_CSP,
        actor=actor,
        run=run,
        body=web.Markup(body),
    )
