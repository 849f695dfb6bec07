"""The ASGI application: the API under ``/api/v1`` over one registry, OpenAPI published, its docs
served offline (Swagger UI from the ``swagger-ui-bundle`` package: no CDN).

Handlers are thin (``api/``): they take the request's user from ``auth`` and call the registry's
Python API acting as that user, where every rule lives (who may edit, delete, mark official, read
a restricted release). Errors the registry raises become one JSON shape, ``{"detail",
"problems"}``: not found 404, not allowed 403, invalid 422, a name taken 409, a file that
changed on disk 409. The access log names the user and never a token, a cookie or a link.
"""

from __future__ import annotations

import contextlib
import logging
import time

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

import registry
from pzforge.errors import ConfigError, PzforgeError
from pzforge.server.auth import Authenticator
from pzforge.server.links import Links
from pzforge.server.models import API_PREFIX
from pzforge.server.pages import error_page, install, is_page
from pzforge.server.settings import ServerSettings

log = logging.getLogger("pzforge.server")
access = logging.getLogger("pzforge.server.access")

STATUS = [
    (registry.NotFound, 404),
    (registry.PermissionDenied, 403),
    (registry.NameCollision, 409),
    (registry.IntegrityProblem, 409),
    (registry.Conflict, 409),
    (registry.LimitReached, 429),
    (registry.SchemaOutdated, 503),
    (registry.ValidationError, 422),
    (registry.RegistryError, 422),
    (ConfigError, 422),
    (PzforgeError, 422),
]


def _problem(status: int, detail: str, problems: list[str] | None = None, headers=None):
    return JSONResponse(
        {"detail": detail, "problems": problems or []}, status_code=status, headers=headers
    )


def _log_path(path: str) -> str:
    """A request path as the access log shows it: signed links and callback tokens are
    credentials, so hidden."""
    for secret in (f"{API_PREFIX}/download/", f"{API_PREFIX}/webhooks/analyses/"):
        if path.startswith(secret):
            return secret + "***"
    return path


def create_app(settings: ServerSettings, reg: registry.Registry | None = None) -> FastAPI:
    """The site's application over ``settings.registry_url`` (or an open registry)."""
    from pzforge.server.analyses import Vault
    from pzforge.server.api import accounts, analyses, embeddings, products, provenance, runs

    settings.check()
    if reg is None:
        extra = {"storage": settings.storage} if settings.storage else {}
        reg = registry.open(
            settings.registry_url,
            user=None,
            upload_limit=settings.upload_limit,
            engine_options={"pool_size": 20, "max_overflow": 20},
            **extra,
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Handlers are CPU-bound Python (the GIL): a few threads per process serve more
        # requests per second than forty contending ones; the rest wait their turn in order.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_sweep_analyses, reg, settings.analysis_sweep_s)
            yield
            tasks.cancel_scope.cancel()

    app = FastAPI(
        lifespan=lifespan,
        title="pzforge",
        version=_version(),
        description=(
            "Photo-z data products, their provenance, and pipelines run on the site's cluster. "
            "Send an API token: `Authorization: Bearer pzf_...`."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below from local files, never from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.registry = reg
    app.state.auth = Authenticator(reg, settings)
    app.state.links = Links(
        settings.secret_key(), settings.link_ttl_s, settings.folder("cache/zips")
    )
    app.state.uploads = settings.folder("uploads")
    app.state.vault = Vault(settings.secret_key())

    app.add_middleware(AccessLog)

    for exc_type, status in STATUS:
        app.add_exception_handler(exc_type, _handler(status))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        if is_page(request):
            return error_page(request, 422, "the address is not valid", problems)
        return _problem(422, "invalid request: " + "; ".join(problems), problems)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if is_page(request):
            return error_page(request, exc.status_code, str(exc.detail))
        return _problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, _log_path(request.url.path))
        if is_page(request):
            return error_page(request, 500, "internal error; the site's log has the details")
        return _problem(500, "internal error; the site's log has the details")

    for module in (accounts, products, runs, provenance, analyses, embeddings):
        app.include_router(module.router, prefix=API_PREFIX)

    from swagger_ui_bundle import swagger_ui_path

    app.mount(
        f"{API_PREFIX}/docs/static",
        StaticFiles(directory=str(swagger_ui_path)),
        name="swagger-static",
    )

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        static = f"{API_PREFIX}/docs/static"
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="pzforge API",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
        )

    install(app)  # the web pages
    return app


async def _sweep_analyses(reg: registry.Registry, every_s: float) -> None:
    """Pending analyses past their timeout become timed_out even on a site without workers
    (workers sweep too; the UPDATE is idempotent, so several processes may)."""
    while True:
        await anyio.sleep(every_s)
        try:
            swept = await anyio.to_thread.run_sync(reg.sweep_analyses)
        except Exception:  # the database is away for a moment: try again next time
            log.exception("could not sweep timed-out analyses")
            continue
        for analysis_id in swept:
            log.warning("analysis %s: its service did not answer in time", analysis_id)


class AccessLog:
    """One line per request: user, method, path (signed links hidden), status, time. A plain
    ASGI middleware (no query string, no headers: tokens and cookies never reach the log)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state") or {}
            access.info(
                "%s %s %s %d %.1fms",
                state.get("user", "-"),
                scope.get("method", "-"),
                _log_path(scope.get("path", "")),
                status[0],
                (time.perf_counter() - start) * 1000,
            )


def _handler(status: int):
    async def handle(request: Request, exc: Exception):
        problems = getattr(exc, "problems", None)
        problems = problems if isinstance(problems, list) else None
        if is_page(request):
            return error_page(request, status, str(exc), problems)
        return _problem(status, str(exc), problems)

    return handle


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pzforge")
    except PackageNotFoundError:
        return "0"
