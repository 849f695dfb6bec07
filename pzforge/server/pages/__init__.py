"""The web site: server-rendered Jinja2 pages over the same registry calls as the API.

No build step, no CDN: templates in ``pages/templates/``, one stylesheet and one small vanilla
script in ``pages/static/`` (served at ``/static``). Every page acts as the logged-in user (a
login session, or the SSO header), every form carries a CSRF token, every answer a
Content-Security-Policy (``web``). Errors on a page are pages (the API keeps its JSON).

- ``products``: home, product list (search, filters, sort, pages), product page, edit, delete,
  official, signed download, a run's provenance report;
- ``analyses``: a product's analyses and summary (on its page), the form that starts one,
  cancel;
- ``account``: log in and out, my API tokens;
- ``upload``: the four-step upload wizard;
- ``runs``: pipelines (forms made from their config schemas), runs list, a run's live page;
- ``admin``: users, groups, releases and who may read them.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from pzforge.server.pages import web


def install(app: FastAPI) -> None:
    """Add the pages and their static files to the site's application."""
    from pzforge.server.pages import account, admin, analyses, products, runs, upload

    app.state.csrf = web.csrf_signer(app.state.settings.secret_key())
    app.mount("/static", StaticFiles(directory=str(web.STATIC)), name="static")
    for module in (products, analyses, account, upload, runs, admin):
        app.include_router(module.router)

    @app.exception_handler(web.LoginNeeded)
    async def login_needed(request: Request, exc: web.LoginNeeded):
        from urllib.parse import urlencode

        response = RedirectResponse("/login?" + urlencode({"next": exc.next_url}), 303)
        web.finish(request, response)
        return response


is_page = web.is_page
error_page = web.error_page
