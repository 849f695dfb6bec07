"""The upload wizard, four steps: (1) name, type, release, description; (2) the main file and any
auxiliary files; (3) which column plays which role, with its IVOA UCD and unit (suggested from
the column names, the roles the product type requires enforced); (4) review, then register.

Until the last step nothing is registered: a draft (its answers in ``draft.json`` and the files
received) waits in the site folder (``uploads/drafts/<id>/``), readable by its user only, and is
removed when untouched for two days. The last step is the registry's ``upload`` - the same checks as ``pzforge products upload`` and
``POST /api/v1/products``, all or nothing - and removes the draft. Problems are shown next to the
field they are about.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

import registry
from pzforge.server.pages import web
from pzforge.server.uploads import receive
from registry.names import check_name
from registry.records import ROLES
from registry.suggest import PATTERNS, suggest_columns

router = APIRouter(include_in_schema=False)
STEPS = ("Name and type", "Files", "Columns", "Review")
UPLOAD_FORMATS = ("csv", "fits", "hdf5", "parquet")
DRAFT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_COLUMNS = 500
DRAFT_DAYS = 2


class Draft:
    """An upload being put together: its answers and its files, in one folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.data: dict[str, Any] = json.loads((folder / "draft.json").read_text())

    @classmethod
    def new(cls, root: Path, user: str) -> Draft:
        _forget_old(root)
        folder = root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        (folder / "draft.json").write_text(json.dumps({"user": user}))
        return cls(folder)

    @property
    def id(self) -> str:
        return self.folder.name

    def save(self) -> None:
        tmp = self.folder / "draft.json.tmp"
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.folder / "draft.json")

    def files(self) -> tuple[Path | None, list[Path]]:
        main = self.data.get("main")
        aux = self.data.get("aux", [])
        return (self.folder / main if main else None), [self.folder / a for a in aux]


def _forget_old(root: Path) -> None:
    """Drafts untouched for DRAFT_DAYS are abandoned: their folders are removed."""
    limit = time.time() - DRAFT_DAYS * 86400
    for folder in root.iterdir():
        meta = folder / "draft.json"
        try:
            if DRAFT_ID.match(folder.name) and meta.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _drafts(request: Request) -> Path:
    return request.app.state.settings.folder("uploads/drafts")


def _draft(request: Request, draft_id: str, user: str) -> Draft:
    folder = _drafts(request) / draft_id
    if not DRAFT_ID.match(draft_id) or not (folder / "draft.json").is_file():
        raise registry.NotFound("no such upload in progress (it was finished or abandoned)")
    draft = Draft(folder)
    if draft.data.get("user") != user:
        raise registry.NotFound("no such upload in progress (it was finished or abandoned)")
    return draft


def _types(reg: registry.Registry) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in reg.product_types()}


def _render(request: Request, actor, step: int, draft: Draft | None, status: int = 200, **ctx):
    return web.render(
        request,
        f"upload_{step}.html.j2",
        status,
        actor=actor,
        steps=STEPS,
        step=step,
        draft=draft,
        **ctx,
    )


# --- step 1: name, type, release, description ----------------------------------------------


def _step1_context(reg: registry.Registry) -> dict[str, Any]:
    types = _types(reg)
    return {
        "types": list(types),
        "type_help": {n: t["required_roles"] for n, t in types.items()},
        "releases": [r["name"] for r in reg.releases() if reg.release_open(r["name"])],
    }


@router.get("/upload", response_class=HTMLResponse)
def start(request: Request):
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    form = {"name": "", "product_type": registry.REFERENCE_REDSHIFT_CATALOG, "release": "",
            "description": ""}  # fmt: skip
    return _render(request, actor, 1, None, form=form, problems={}, **_step1_context(reg))


@router.get("/upload/{draft_id}", response_class=HTMLResponse)
def step1_again(request: Request, draft_id: str):
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    reg = web.acting(request, actor)
    form = {k: draft.data.get(k, "") or "" for k in ("name", "product_type", "release",
                                                     "description")}  # fmt: skip
    return _render(request, actor, 1, draft, form=form, problems={}, **_step1_context(reg))


async def _save_step1(request: Request, draft_id: str | None):
    data = await web.form_data(request)
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    draft = _draft(request, draft_id, actor.name) if draft_id else None
    context = _step1_context(reg)
    form = {k: str(data.get(k, "")) for k in ("name", "product_type", "release", "description")}
    problems: dict[str, str] = {}
    try:
        form["name"] = check_name(form["name"])
    except registry.ValidationError as exc:
        problems["name"] = str(exc)
    if form["product_type"] not in context["types"]:
        problems["product_type"] = "choose one of the product types"
    if form["release"] and form["release"] not in context["releases"]:
        problems["release"] = f"no release {form['release']!r} you may add products to"
    if len(form["description"]) > 50_000:
        problems["description"] = "at most 50,000 characters"
    if not problems and not draft:
        # a name already taken is said now, not after the files were sent
        taken = reg.list_products(name=form["name"], product_type=form["product_type"], limit=50)
        if any(p.name == form["name"] for p in taken):
            problems["name"] = (
                f"a {form['product_type']} named {form['name']!r} already exists; choose another"
            )
    if problems:
        return _render(request, actor, 1, draft, 422, form=form, problems=problems, **context)
    if draft is None:
        draft = Draft.new(_drafts(request), actor.name)
    if draft.data.get("product_type") not in (None, form["product_type"]):
        draft.data.pop("columns", None)  # another type needs other roles
    draft.data.update(form)
    draft.save()
    return web.redirect(request, f"/upload/{draft.id}/files")


@router.post("/upload", response_class=HTMLResponse)
async def step1(request: Request):
    return await _save_step1(request, None)


@router.post("/upload/{draft_id}", response_class=HTMLResponse)
async def step1_update(request: Request, draft_id: str):
    return await _save_step1(request, draft_id)


# --- step 2: files ---------------------------------------------------------------------------


@router.get("/upload/{draft_id}/files", response_class=HTMLResponse)
def files_page(request: Request, draft_id: str):
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    return _files(request, actor, draft, {})


def _files(request, actor, draft: Draft, problems: dict[str, str], status: int = 200):
    main, aux = draft.files()
    reg = web.acting(request, actor)
    tabular = _types(reg)[draft.data["product_type"]]["tabular"]
    return _render(
        request,
        actor,
        2,
        draft,
        status,
        problems=problems,
        main=main.name if main else None,
        aux=[a.name for a in aux],
        tabular=tabular,
        limit=web.size(request.app.state.settings.upload_limit),
    )


@router.post("/upload/{draft_id}/files", response_class=HTMLResponse)
async def files_save(request: Request, draft_id: str):
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    settings = request.app.state.settings
    try:
        received = await receive(
            request, settings.folder("uploads"), settings.upload_limit, (web.CSRF_FIELD,)
        )
    except HTTPException as exc:
        if exc.status_code in (413, 422):
            detail = str(exc.detail)
            if "no main_file" in detail:
                detail = "choose the main file"
            return _files(request, actor, draft, {"main_file": detail}, exc.status_code)
        raise
    try:
        web.check_csrf(request, received.fields.get(web.CSRF_FIELD))
        problems = await run_in_threadpool(_take_files, request, actor, draft, received)
    finally:
        received.discard()
    if problems:
        return _files(request, actor, draft, problems, 422)
    reg = web.acting(request, actor)
    tabular = _types(reg)[draft.data["product_type"]]["tabular"]
    return web.redirect(request, f"/upload/{draft.id}/{'columns' if tabular else 'review'}")


def _take_files(request, actor, draft: Draft, received) -> dict[str, str]:
    reg = web.acting(request, actor)
    main = received.main_file
    if main is None or main.stat().st_size == 0:
        # a form sent without a file chosen has an empty part named "file"
        empty = main is None or main.name == "file"
        return {"main_file": "choose the main file" if empty else f"{main.name} is empty"}
    tabular = _types(reg)[draft.data["product_type"]]["tabular"]
    fmt = registry.formats.format_of(main)
    columns: list[str] = []
    if tabular:
        if fmt not in UPLOAD_FORMATS:
            return {
                "main_file": f"a {draft.data['product_type']} must be CSV, FITS, HDF5 or Parquet "
                f"(got {main.name})"
            }
        try:
            columns = registry.formats.list_columns(main, fmt)
        except registry.RegistryError as exc:
            return {"main_file": f"cannot read {main.name}: {exc}"}
        if not columns:
            return {"main_file": f"{main.name} has no columns"}
        columns = columns[:MAX_COLUMNS]
    aux = [a for a in received.aux_files if a.stat().st_size > 0]
    # replace the draft's files by these (kept under files/<n>/<name>)
    target = draft.folder / "files"
    shutil.rmtree(target, ignore_errors=True)
    names = []
    for i, path in enumerate([main, *aux]):
        (target / str(i)).mkdir(parents=True)
        shutil.move(path, target / str(i) / path.name)
        names.append(f"files/{i}/{path.name}")
    draft.data.update(main=names[0], aux=names[1:], format=fmt, file_columns=columns)
    draft.data.pop("columns", None)
    draft.save()
    return {}


# --- step 3: columns ---------------------------------------------------------------------------


def _suggested(draft: Draft) -> list[dict[str, str]]:
    """One row per column of the file: the role, UCD and unit suggested from its name."""
    names = draft.data.get("file_columns", [])
    by_name = {c.name: c for c in suggest_columns(names)}
    rows = []
    for n in names:
        s = by_name.get(n)
        rows.append(
            {
                "name": n,
                "role": s.role if s else "",
                "ucd": (s.ucd or "") if s else "",
                "unit": (s.unit or "") if s else "",
            }  # fmt: skip
        )
    return rows


@router.get("/upload/{draft_id}/columns", response_class=HTMLResponse)
def columns_page(request: Request, draft_id: str):
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    if not draft.data.get("main"):
        return web.redirect(request, f"/upload/{draft.id}/files")
    rows = draft.data.get("columns") or _suggested(draft)
    return _columns(request, actor, draft, rows, {})


def _columns(request, actor, draft, rows, problems, status=200):
    reg = web.acting(request, actor)
    required = _types(reg)[draft.data["product_type"]]["required_roles"]
    return _render(
        request,
        actor,
        3,
        draft,
        status,
        rows=rows,
        roles=ROLES,
        required=required,
        problems=problems,
        ucds={r: p[1] for r, p in PATTERNS.items()},
    )


@router.post("/upload/{draft_id}/columns", response_class=HTMLResponse)
async def columns_save(request: Request, draft_id: str):
    data = await web.form_data(request)
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    reg = web.acting(request, actor)
    required = _types(reg)[draft.data["product_type"]]["required_roles"]
    rows, problems, seen = [], {}, {}
    for i, name in enumerate(draft.data.get("file_columns", [])):
        role = str(data.get(f"role-{i}", ""))
        ucd = str(data.get(f"ucd-{i}", "")).strip()[:200]
        unit = str(data.get(f"unit-{i}", "")).strip()[:50]
        rows.append({"name": name, "role": role, "ucd": ucd, "unit": unit})
        if role and role not in ROLES:
            problems[f"role-{i}"] = "choose a role from the list"
        elif role and role != "other" and role in seen:
            problems[f"role-{i}"] = f"{role} is already the role of column {seen[role]}"
        elif role:
            seen[role] = name
        if ucd and not re.fullmatch(r"[A-Za-z0-9.;_-]+", ucd):
            problems[f"ucd-{i}"] = (
                "a UCD is words joined by dots and semicolons (pos.eq.ra;meta.main)"
            )
    missing = [r for r in required if r not in seen]
    if missing:
        problems["roles"] = (
            f"a {draft.data['product_type']} needs columns for {', '.join(required)}; "
            f"missing: {', '.join(missing)}"
        )
    draft.data["columns"] = rows
    draft.save()
    if problems:
        return _columns(request, actor, draft, rows, problems, 422)
    return web.redirect(request, f"/upload/{draft.id}/review")


# --- step 4: review and register -----------------------------------------------------------------


@router.get("/upload/{draft_id}/review", response_class=HTMLResponse)
def review(request: Request, draft_id: str):
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    return _review(request, actor, draft, None)


def _review(request, actor, draft: Draft, error: str | None, status: int = 200):
    main, aux = draft.files()
    return _render(
        request,
        actor,
        4,
        draft,
        status,
        main=(main.name, main.stat().st_size) if main and main.exists() else None,
        aux=[(a.name, a.stat().st_size) for a in aux if a.exists()],
        columns=[c for c in draft.data.get("columns") or [] if c["role"]],
        error=error,
    )


@router.post("/upload/{draft_id}/finish", response_class=HTMLResponse)
async def finish(request: Request, draft_id: str):
    await web.form_data(request)
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    main, aux = draft.files()
    if main is None or not main.exists():
        return _review(request, actor, draft, "the main file is missing: go back to step 2", 422)
    reg = web.acting(request, actor)
    columns = [
        registry.ColumnSpec(
            name=c["name"], role=c["role"], ucd=c["ucd"] or None, unit=c["unit"] or None
        )  # fmt: skip
        for c in draft.data.get("columns") or []
        if c["role"]
    ]
    try:
        product = await run_in_threadpool(
            reg.upload,
            draft.data["name"],
            draft.data["product_type"],
            main,
            aux_files=aux,
            description=draft.data.get("description", ""),
            columns=columns,
            release=draft.data.get("release") or None,
        )
    except (registry.ValidationError, registry.NameCollision, registry.PermissionDenied) as exc:
        return _review(request, actor, draft, str(exc), 422)
    shutil.rmtree(draft.folder, ignore_errors=True)
    return web.redirect(request, f"/products/{product.internal_name}?done=uploaded")


@router.post("/upload/{draft_id}/abandon")
async def abandon(request: Request, draft_id: str):
    await web.form_data(request)
    actor = web.need_user(request)
    draft = _draft(request, draft_id, actor.name)
    shutil.rmtree(draft.folder, ignore_errors=True)
    return web.redirect(request, "/upload")
