"""Logging in and out, and the account page: my API tokens (create - shown once -, revoke)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

import registry
from pzforge.server import auth
from pzforge.server.auth import SESSION_COOKIE
from pzforge.server.pages import web

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request):
    return web.render(
        request,
        "login.html.j2",
        next=web.safe_next(request.query_params.get("next")),
        name="",
        error=None,
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request):
    data = await web.form_data(request)
    name = str(data.get("name", "")).strip()[:100]
    password = str(data.get("password", ""))[:1000]
    target = web.safe_next(str(data.get("next", "")))
    reg = request.app.state.registry
    user = reg.check_password(name, password) if name and password else None
    if user is None:
        return web.render(
            request,
            "login.html.j2",
            401,
            actor=None,
            next=target,
            name=name,
            error="Wrong name or password.",
        )
    request.state.user = user["name"]
    response = web.redirect(request, target)
    auth.set_session_cookie(request, response, user["name"])
    return response


@router.post("/logout")
async def logout(request: Request):
    await web.form_data(request)
    response = web.redirect(request, "/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _account(request: Request, actor, **extra):
    reg = web.acting(request, actor)
    tokens = sorted(reg.list_tokens(), key=lambda t: (not t["active"], t["id"]))
    context = {
        "me": reg.get_user(actor.name),
        "tokens": tokens,
        "new_token": None,
        "problems": {},
        "form": {"label": "", "days": ""},
    }
    return web.render(
        request, "account.html.j2", actor=actor, headers=NO_STORE, **(context | extra)
    )


@router.get("/account", response_class=HTMLResponse)
def account(request: Request):
    actor = web.need_user(request)
    return _account(request, actor, notice=_notice(request))


def _notice(request: Request) -> str | None:
    revoked = request.query_params.get("revoked", "")
    return f"Token {revoked} revoked." if revoked.isdigit() else None


@router.post("/account/tokens", response_class=HTMLResponse)
async def create_token(request: Request):
    """A new token, shown in this answer only (never stored in clear, never shown again)."""
    data = await web.form_data(request)
    actor = web.need_user(request)
    label = str(data.get("label", "")).strip()
    days_text = str(data.get("days", "")).strip()
    form = {"label": label, "days": days_text}
    problems = {}
    if not label:
        problems["label"] = "give the token a label (what will use it: a notebook, a laptop...)"
    elif len(label) > 100:
        problems["label"] = "at most 100 characters"
    days = None
    if days_text:
        if not days_text.isdigit() or not 1 <= int(days_text) <= 3650:
            problems["days"] = "a whole number of days from 1 to 3650, or empty for no expiry"
        else:
            days = int(days_text)
    if problems:
        return _account(request, actor, problems=problems, form=form, notice=None)
    reg = web.acting(request, actor)
    try:
        token, info = reg.create_token(label=label, expires_in_days=days)
    except registry.ValidationError as exc:
        return _account(request, actor, problems={"label": str(exc)}, form=form, notice=None)
    return _account(request, actor, new_token={"token": token} | info, notice=None)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int):
    await web.form_data(request)
    actor = web.need_user(request)
    web.acting(request, actor).revoke_token(token_id)  # the registry: own tokens (or an admin)
    return web.redirect(request, f"/account?revoked={token_id}")
