"""The admin page: users (add, make admin or not, deactivate), groups and their members, releases
and which groups may read them. Every change is one registry call, which checks that the acting
user is an admin (as ``pzforge users ...`` and the API's admin endpoints do)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

import registry
from pzforge.server.pages import web

router = APIRouter(include_in_schema=False)
SECTIONS = ("users", "groups", "releases")


def _admin(request: Request):
    actor = web.need_user(request)
    reg = web.acting(request, actor)
    if not reg.is_admin:
        raise registry.PermissionDenied(f"only admins may manage the site; {actor.name} is not one")
    return actor, reg


def _page(request: Request, actor, reg, status: int = 200, **extra):
    restricted = reg.release_groups()
    context = {
        "users": reg.list_users(),
        "groups": reg.list_groups(),
        "releases": [r | {"groups": restricted.get(r["name"], [])} for r in reg.releases()],
        "problems": {},
        "form": {},
        "notice": None,
    }
    return web.render(request, "admin.html.j2", status, actor=actor, **(context | extra))


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request):
    actor, reg = _admin(request)
    done = request.query_params.get("done", "")
    notice = {"user": "User saved.", "group": "Group saved.", "release": "Release saved."}
    return _page(request, actor, reg, notice=notice.get(done))


def _text(data, key: str, limit: int = 200) -> str:
    return str(data.get(key, "")).strip()[:limit]


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user(request: Request):
    data = await web.form_data(request)
    actor, reg = _admin(request)
    form = {k: _text(data, k) for k in ("user_name", "display_name", "email")}
    form["admin"] = data.get("admin") == "on"
    password = str(data.get("password", ""))[:1000]
    try:
        reg.add_user(
            form["user_name"],
            admin=form["admin"],
            password=password or None,
            display_name=form["display_name"],
            email=form["email"],
        )
    except (registry.ValidationError, registry.NameCollision) as exc:
        field = "password" if "password" in str(exc) else "user_name"
        return _page(request, actor, reg, 422, problems={field: str(exc)}, form=form)
    return web.redirect(request, "/admin?done=user#users")


@router.post("/admin/users/{name}", response_class=HTMLResponse)
async def change_user(request: Request, name: str):
    data = await web.form_data(request)
    _actor, reg = _admin(request)
    change = str(data.get("change", ""))
    flags = {
        "make-admin": {"admin": True},
        "not-admin": {"admin": False},
        "deactivate": {"active": False},
        "activate": {"active": True},
    }
    if change not in flags:
        raise registry.ValidationError("unknown change")
    reg.update_user(name, **flags[change])
    return web.redirect(request, "/admin?done=user#users")


@router.post("/admin/groups", response_class=HTMLResponse)
async def add_group(request: Request):
    data = await web.form_data(request)
    actor, reg = _admin(request)
    form = {
        "group_name": _text(data, "group_name"),
        "group_description": _text(data, "group_description", 500),
    }
    try:
        reg.add_group(form["group_name"], form["group_description"])
    except (registry.ValidationError, registry.NameCollision) as exc:
        return _page(request, actor, reg, 422, problems={"group_name": str(exc)}, form=form)
    return web.redirect(request, "/admin?done=group#groups")


@router.post("/admin/groups/{group}/members", response_class=HTMLResponse)
async def members(request: Request, group: str):
    data = await web.form_data(request)
    actor, reg = _admin(request)
    user = _text(data, "member")
    try:
        if data.get("remove") == "1":
            reg.remove_member(group, user)
        else:
            reg.add_member(group, user)
    except (registry.ValidationError, registry.NotFound, registry.NameCollision) as exc:
        return _page(request, actor, reg, 422, problems={f"member-{group}": str(exc)})
    return web.redirect(request, "/admin?done=group#groups")


@router.post("/admin/releases", response_class=HTMLResponse)
async def add_release(request: Request):
    data = await web.form_data(request)
    actor, reg = _admin(request)
    form = {
        "release_name": _text(data, "release_name"),
        "release_description": _text(data, "release_description", 500),
    }
    try:
        reg.add_release(form["release_name"], form["release_description"])
    except (registry.ValidationError, registry.NameCollision) as exc:
        return _page(request, actor, reg, 422, problems={"release_name": str(exc)}, form=form)
    return web.redirect(request, "/admin?done=release#releases")


@router.post("/admin/releases/{name}/groups", response_class=HTMLResponse)
async def release_access(request: Request, name: str):
    data = await web.form_data(request)
    _actor, reg = _admin(request)
    groups = [str(g) for g in data["_form"].getlist("groups")]
    reg.restrict_release(name, groups)
    return web.redirect(request, "/admin?done=release#releases")
