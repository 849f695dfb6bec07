"""Who is asking: an API token, a login session, or the site's single-sign-on header.

- ``Authorization: Bearer pzf_...`` (or ``Token pzf_...``, as pzserver sends it): looked up by
  its sha256; unknown, revoked or expired tokens and deactivated users get 401.
- A login session (``POST /api/v1/login`` with a name and password checked against the argon2
  hash): a signed, expiring, HttpOnly cookie (SameSite=Lax); requests that change something with
  a cookie must also send ``X-Requested-With`` (a cross-site form cannot).
- ``trusted_user_header`` (off by default): the user named by the site's SSO proxy, believed only
  from ``trusted_proxies``; the user must exist and be active.

Nothing here reads the environment, and tokens, passwords and cookies are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

import registry
from pzforge.server.settings import ServerSettings

SESSION_COOKIE = "pzforge_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
bearer = HTTPBearer(auto_error=False, description="An API token: Authorization: Bearer pzf_...")


@dataclass(frozen=True)
class Actor:
    """The user a request acts for."""

    name: str
    is_admin: bool
    via: str  # token | session | header


def unauthorized(detail: str = "log in or send an API token (Authorization: Bearer pzf_...)"):
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="pzforge"'})


class Authenticator:
    def __init__(self, reg: registry.Registry, settings: ServerSettings):
        self.registry = reg
        self.settings = settings
        self.sessions = URLSafeTimedSerializer(settings.secret_key(), salt="pzforge-session")

    def session_cookie(self, name: str) -> str:
        return self.sessions.dumps({"u": name})

    def actor(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Actor:
        header = request.headers.get("authorization", "")
        if credentials is not None or header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() not in ("bearer", "token") or not token.strip():
                raise unauthorized("the Authorization header must be: Bearer <token>")
            user = self.registry.authenticate_token(token.strip())
            if user is None:
                raise unauthorized("the token is not valid (unknown, revoked or expired)")
            return Actor(user["name"], bool(user["is_admin"]), "token")
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            user = self.session_user(cookie)
            if user is None:
                raise unauthorized(
                    "the login session is not valid, has expired, or its user is not active"
                )
            if request.method not in SAFE_METHODS and not request.headers.get("x-requested-with"):
                raise HTTPException(
                    403, "a change made with a login cookie needs the X-Requested-With header"
                )
            return Actor(user["name"], bool(user["is_admin"]), "session")
        name = self.header_user(request)
        if name is not None:
            user = self.registry.user_for_login(name)
            if user is None:
                raise unauthorized(f"the single-sign-on user {name!r} has no active account here")
            return Actor(user["name"], bool(user["is_admin"]), "header")
        raise unauthorized()

    def session_user(self, cookie: str) -> dict | None:
        """The active user of a login session cookie (None: tampered with, expired, inactive)."""
        try:
            data = self.sessions.loads(cookie, max_age=self.settings.session_ttl_s)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        return self.registry.user_for_login(str(data.get("u", "")))

    def browser_actor(self, request: Request) -> Actor | None:
        """The user of a web page's request: its login session, or the SSO header; None when
        nobody is logged in. (The pages' forms carry a CSRF token instead of the API's
        X-Requested-With rule: see ``pages.web``.)"""
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            user = self.session_user(cookie)
            if user is not None:
                return Actor(user["name"], bool(user["is_admin"]), "session")
        name = self.header_user(request)
        if name is not None:
            user = self.registry.user_for_login(name)
            if user is not None:
                return Actor(user["name"], bool(user["is_admin"]), "header")
        return None

    def header_user(self, request: Request) -> str | None:
        header = self.settings.trusted_user_header
        if not header:
            return None
        client = request.client.host if request.client else None
        if client not in self.settings.trusted_proxies:
            return None
        value = request.headers.get(header)
        return value.strip() if value and value.strip() else None


def set_session_cookie(request: Request, response, name: str) -> None:
    """Log ``name`` in on this browser: the signed session cookie (HttpOnly, SameSite=Lax,
    Secure when the site says so), for the API's login and the web page's alike."""
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.auth.session_cookie(name),
        max_age=settings.session_ttl_s,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Actor:
    actor = request.app.state.auth.actor(request, credentials)
    request.state.user = actor.name  # for the access log
    return actor


def acting_registry(
    request: Request, actor: Annotated[Actor, Depends(current_actor)]
) -> registry.Registry:
    """The registry acting as the request's user (admin rights from the database only)."""
    return request.app.state.registry.acting_as(actor.name)


def admin_registry(
    request: Request, actor: Annotated[Actor, Depends(current_actor)]
) -> registry.Registry:
    if not actor.is_admin:
        raise HTTPException(403, f"only admins may do this; {actor.name} is not one")
    return request.app.state.registry.acting_as(actor.name)
