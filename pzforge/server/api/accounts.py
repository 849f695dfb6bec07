"""Logging in, your account and tokens; users and groups (admins); the site's health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

import registry
from pzforge.server import models
from pzforge.server.auth import (
    SESSION_COOKIE,
    Actor,
    acting_registry,
    admin_registry,
    current_actor,
    set_session_cookie,
)

router = APIRouter(tags=["accounts"])
Reg = Annotated[registry.Registry, Depends(acting_registry)]
AdminReg = Annotated[registry.Registry, Depends(admin_registry)]


@router.get("/health", response_model=models.Health, tags=["site"])
def health(request: Request) -> dict[str, Any]:
    """Whether the site answers and its schema is current (no login needed)."""
    from importlib.metadata import PackageNotFoundError, version

    from registry.store import current_revision

    try:
        release = version("pzforge")
    except PackageNotFoundError:
        release = "0"
    revision = current_revision(request.app.state.registry.engine)
    return {"status": "ok", "schema_revision": revision, "version": release}


@router.post("/login", response_model=models.User)
def login(body: models.Login, request: Request, response: Response) -> dict[str, Any]:
    """Log in with a name and password: sets a signed session cookie (HttpOnly, SameSite=Lax)."""
    reg = request.app.state.registry
    user = reg.check_password(body.name, body.password)
    if user is None:
        raise HTTPException(401, "wrong name or password", headers={"WWW-Authenticate": "Bearer"})
    request.state.user = user["name"]
    set_session_cookie(request, response, user["name"])
    return user


@router.post("/logout", status_code=204)
def logout(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=models.User)
def me(reg: Reg) -> dict[str, Any]:
    """Your account."""
    return reg.get_user(reg.user)


@router.get("/tokens", response_model=list[models.Token])
def my_tokens(reg: Reg) -> list[dict[str, Any]]:
    """Your API tokens (never the tokens themselves: only their first characters)."""
    return reg.list_tokens()


@router.post("/tokens", response_model=models.NewToken, status_code=201)
def new_token(body: models.NewTokenRequest, reg: Reg) -> dict[str, Any]:
    """A new API token for you: shown in this answer once, stored only as its hash."""
    token, info = reg.create_token(label=body.label, expires_in_days=body.expires_in_days)
    return info | {"token": token}


@router.delete("/tokens/{token_id}", response_model=models.Token)
def revoke_token(token_id: int, reg: Reg) -> dict[str, Any]:
    """Revoke one of your tokens (admins: anyone's)."""
    return reg.revoke_token(token_id)


@router.get("/users", response_model=list[models.User])
def users(reg: Reg) -> list[dict[str, Any]]:
    """Registered users (names for everyone; accounts in full for admins)."""
    return reg.list_users()


@router.post("/users", response_model=models.User, status_code=201)
def add_user(body: models.NewUser, reg: AdminReg) -> dict[str, Any]:
    """Add a user (admins)."""
    return reg.add_user(
        body.name,
        admin=body.admin,
        password=body.password,
        display_name=body.display_name,
        email=body.email,
    )


@router.patch("/users/{name}", response_model=models.User)
def update_user(
    name: str,
    body: models.UserUpdate,
    reg: Reg,
    actor: Annotated[Actor, Depends(current_actor)],
) -> dict[str, Any]:
    """Change a user (admins); anyone may change their own password."""
    others = body.model_dump(exclude={"password"}, exclude_none=True)
    if body.password is not None:
        reg.set_password(name, body.password)
    if others or name != actor.name:
        if not actor.is_admin:
            raise HTTPException(403, f"only admins may change users; {actor.name} is not one")
        return reg.update_user(
            name,
            admin=body.admin,
            active=body.active,
            display_name=body.display_name,
            email=body.email,
        )
    return reg.get_user(name)


@router.post("/users/{name}/tokens", response_model=models.NewToken, status_code=201)
def token_for(name: str, body: models.NewTokenRequest, reg: AdminReg) -> dict[str, Any]:
    """A new API token for a user (admins): shown once."""
    token, info = reg.create_token(name, label=body.label, expires_in_days=body.expires_in_days)
    return info | {"token": token}


@router.get("/groups", response_model=list[models.Group])
def groups(reg: Reg) -> list[dict[str, Any]]:
    return reg.list_groups()


@router.post("/groups", response_model=models.Group, status_code=201)
def add_group(body: models.NewGroup, reg: AdminReg) -> dict[str, Any]:
    """Add a group (admins)."""
    return reg.add_group(body.name, body.description)


@router.put("/groups/{group}/members/{user}", status_code=204)
def add_member(group: str, user: str, reg: AdminReg) -> Response:
    reg.add_member(group, user)
    return Response(status_code=204)


@router.delete("/groups/{group}/members/{user}", status_code=204)
def remove_member(group: str, user: str, reg: AdminReg) -> Response:
    reg.remove_member(group, user)
    return Response(status_code=204)
