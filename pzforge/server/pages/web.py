"""What every page shares: the templates, who is looking, CSRF tokens, safe Markdown, headers.

- **Who**: a page's user is its login session (or the site's SSO header); a page that needs one
  sends the browser to ``/login?next=...``. Pages call the registry acting as that user, exactly
  as the API handlers do, so every rule (who may read, edit, delete, mark official) is the
  registry's.
- **CSRF**: every form carries ``csrf_token``, the signed value of an HttpOnly, SameSite=Strict
  cookie (``pzforge_csrf``) the site set on an earlier page; a POST whose token does not sign
  that cookie's value is refused (403). A cross-site page can neither read the cookie nor forge
  the signature.
- **Escaping**: Jinja2 autoescapes every template; Markdown is rendered by markdown-it-py with raw
  HTML off (it is shown as text) and its link check (no ``javascript:``/``data:`` links).
- **Headers**: a Content-Security-Policy that allows only the site's own scripts and styles
  (``/static``: shipped in the package, nothing from a CDN), no framing, forms posting to the
  site only; ``nosniff``; ``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeSerializer
from markdown_it import MarkdownIt
from markupsafe import Markup

import registry
from pzforge.server.auth import Actor
from pzforge.server.models import API_PREFIX

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CSRF_COOKIE = "pzforge_csrf"
CSRF_FIELD = "csrf_token"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# the provenance report's fragment carries its own scoped <style> and SVG style attributes
REPORT_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
_UNSET = object()
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


class LoginNeeded(Exception):
    """A page that needs a logged-in user was asked for by nobody: go to the login page."""

    def __init__(self, next_url: str):
        super().__init__(next_url)
        self.next_url = next_url


def is_page(request: Request) -> bool:
    """A request for a web page (not the API, not a static file)."""
    path = request.url.path
    return not (path.startswith(API_PREFIX) or path.startswith("/static/"))


def markdown(text: str | None) -> Markup:
    """Markdown as HTML: raw HTML in the text is escaped, unsafe links are not links."""
    return Markup(_markdown.render(text or ""))


def size(n: int | None) -> str:
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    return str(n)


def when(value: Any) -> str:
    """A time as people read it: 2026-12-03 13:40 UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    zone = " UTC" if value.tzinfo is None or value.utcoffset().total_seconds() == 0 else ""
    return value.strftime("%Y-%m-%d %H:%M") + zone


def cell(value: Any) -> str:
    """A table preview's cell: floats to 6 significant digits, nulls as blanks."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(markdown=markdown, size=size, when=when, cell=cell)
    env.globals["quote"] = lambda v: quote(str(v), safe="")
    return env


ENV = _environment()


# --- who is looking ------------------------------------------------------------------------


def viewer(request: Request) -> Actor | None:
    actor = request.app.state.auth.browser_actor(request)
    if actor is not None:
        request.state.user = actor.name  # for the access log
    return actor


def need_user(request: Request) -> Actor:
    actor = viewer(request)
    if actor is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginNeeded(path)
    return actor


def acting(request: Request, actor: Actor) -> registry.Registry:
    return request.app.state.registry.acting_as(actor.name)


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never //host or a scheme)."""
    if not value or not value.startswith("/") or "\\" in value:
        return "/"
    if any(ord(c) < 33 or c == "\x7f" for c in value):  # browsers drop tabs: "/\t/x" is "//x"
        return "/"
    if value.startswith("//"):
        return "/"
    return value


# --- CSRF -----------------------------------------------------------------------------------


def csrf_signer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt="pzforge-csrf")


def _signer(request: Request) -> URLSafeSerializer:
    return request.app.state.csrf


def csrf_token(request: Request) -> str:
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not value:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf = value
    return _signer(request).dumps(value)


def check_csrf(request: Request, token: Any) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    try:
        value = _signer(request).loads(str(token or ""))
    except BadSignature:
        value = None
    if not cookie or not isinstance(value, str) or not hmac.compare_digest(value, cookie):
        raise HTTPException(
            403,
            "this form came without a valid CSRF token (it expired, or another site sent it); "
            "reload the page and try again",
        )


async def form_data(request: Request) -> dict[str, Any]:
    """A POSTed form's fields (the last value of each; ``getlist`` where several are needed),
    after its CSRF token was checked."""
    form = await request.form(max_files=0, max_fields=2000)
    check_csrf(request, form.get(CSRF_FIELD))
    return {k: v for k, v in form.multi_items()} | {"_form": form}


# --- rendering -------------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    status: int = 200,
    *,
    csp: str = CSP,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    actor = context.pop("actor", _UNSET)
    if actor is _UNSET:
        try:
            actor = viewer(request)
        except Exception:  # a broken database must still let an error page render
            actor = None
    page = ENV.get_template(template).render(
        request=request,
        actor=actor,
        csrf=csrf_token(request),
        csrf_field=CSRF_FIELD,
        path=request.url.path,
        version=request.app.version,
        **context,
    )
    response = HTMLResponse(page, status_code=status)
    finish(request, response, csp=csp)
    if headers:
        response.headers.update(headers)
    return response


def finish(request: Request, response, *, csp: str = CSP) -> None:
    """The headers every page answer carries, and the CSRF cookie if it is new."""
    response.headers["Content-Security-Policy"] = csp
    response.headers.update(HEADERS)
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            new,
            httponly=True,
            samesite="strict",
            secure=request.app.state.settings.secure_cookies,
            path="/",
        )


def redirect(request: Request, url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    finish(request, response)
    return response


TITLES = {
    400: "Bad request",
    401: "Log in needed",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Cannot do that",
    500: "Something went wrong",
    503: "Unavailable",
}


def error_page(request: Request, status: int, detail: str, problems: list[str] | None = None):
    return render(
        request,
        "error.html.j2",
        status,
        title=TITLES.get(status, "Error"),
        code=status,
        detail=detail,
        problems=problems or [],
    )
