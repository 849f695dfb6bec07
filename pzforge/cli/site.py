"""`pzforge serve`, `pzforge worker`: the shared site and the workers that run its pipelines."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from pzforge.cli.render import UrlOpt, err

SiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--site",
        envvar="PZFORGE_SITE",
        help="Site folder: signing key, uploads, download zips, run folders (./pzforge_site).",
    ),
]
StorageOpt = Annotated[
    str | None,
    typer.Option("--storage", envvar="PZFORGE_STORAGE", help="Root of the registry's file store."),
]


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (behind a proxy: 127.0.0.1).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    registry: UrlOpt = None,
    site: SiteOpt = None,
    storage: StorageOpt = None,
    upload_limit_mb: Annotated[
        float | None, typer.Option(envvar="PZFORGE_UPLOAD_LIMIT_MB", help="Largest upload, MB.")
    ] = None,
    profiles: Annotated[
        str | None,
        typer.Option(envvar="PZFORGE_PROFILES", help="Profiles runs may use, comma-separated."),
    ] = None,
    input_root: Annotated[
        list[Path] | None,
        typer.Option(help="A server folder runs may read files from (repeatable)."),
    ] = None,
    trusted_user_header: Annotated[
        str | None,
        typer.Option(
            envvar="PZFORGE_TRUSTED_USER_HEADER",
            help="Header naming the user, set by the site's SSO proxy (e.g. X-Remote-User).",
        ),
    ] = None,
    accel_redirect: Annotated[
        str | None,
        typer.Option(
            envvar="PZFORGE_ACCEL_REDIRECT",
            help="Let the proxy send zips: nginx:/internal-location/ or apache.",
        ),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option(help="Login cookies over HTTPS only (behind a TLS proxy).")
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            envvar="PZFORGE_PUBLIC_URL",
            help="The site's address as analysis services reach it (their callbacks).",
        ),
    ] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also start one worker (a laptop site).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning.")] = "info",
) -> None:
    """Start the site: its pages (/) and the API (/api/v1, docs at /api/v1/docs) on the registry's
    database."""
    import uvicorn

    from pzforge.server.main import log_config
    from pzforge.server.settings import ServerSettings

    given = {
        "PZFORGE_REGISTRY_URL": registry,
        "PZFORGE_SITE": str(site) if site else None,
        "PZFORGE_STORAGE": storage,
        "PZFORGE_UPLOAD_LIMIT_MB": str(upload_limit_mb) if upload_limit_mb else None,
        "PZFORGE_PROFILES": profiles,
        "PZFORGE_INPUT_ROOTS": os.pathsep.join(str(p) for p in input_root or []) or None,
        "PZFORGE_TRUSTED_USER_HEADER": trusted_user_header,
        "PZFORGE_ACCEL_REDIRECT": accel_redirect,
        "PZFORGE_SECURE_COOKIES": "true" if secure_cookies else None,
        "PZFORGE_PUBLIC_URL": public_url,
    }
    os.environ.update({k: v for k, v in given.items() if v})  # read by every uvicorn process
    settings = ServerSettings.from_env()
    import registry as reg

    reg.open(settings.registry_url).engine.dispose()  # create or check the schema once, here
    settings.secret_key()
    worker = None
    if with_worker:
        worker = subprocess.Popen(
            [sys.executable, "-m", "pzforge.cli", "worker"], env=os.environ.copy()
        )
    err.print(
        f"pzforge site on http://{host}:{port}/ (API: /api/v1, docs: /api/v1/docs), registry "
        f"{settings.registry_url or 'pzforge_registry.sqlite'}, site folder {settings.site_dir}",
        markup=False,
        highlight=False,
    )
    try:
        uvicorn.run(
            "pzforge.server.main:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=log_config(log_level),
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=",".join(settings.trusted_proxies),
        )
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGINT)  # its run in hand is cancelled
            worker.wait(timeout=180)


def worker(
    registry: UrlOpt = None,
    site: SiteOpt = None,
    storage: StorageOpt = None,
    profiles: Annotated[
        str | None,
        typer.Option(
            envvar="PZFORGE_PROFILES", help="Profiles this worker runs (comma-separated)."
        ),
    ] = None,
    poll: Annotated[float, typer.Option(help="Seconds between looks at the queue.")] = 2.0,
    stale_after: Annotated[
        float, typer.Option(help="Seconds without news before a run is marked interrupted.")
    ] = 120.0,
    snakemake_arg: Annotated[
        list[str] | None,
        typer.Option(help="An extra Snakemake argument for every run (repeatable)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Stop when the queue is empty.")] = False,
) -> None:
    """Run queued pipeline runs, one at a time, as `pzforge run` does (several workers may share
    a PostgreSQL registry; SQLite takes one)."""
    from pzforge.server.settings import ServerSettings
    from pzforge.server.worker import Worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServerSettings.from_env(
        registry_url=registry,
        site_dir=site,
        storage=storage,
        profiles=tuple(p.strip() for p in profiles.split(",")) if profiles else None,
    )
    w = Worker(
        settings, poll_s=poll, stale_after_s=stale_after, snakemake_args=list(snakemake_arg or [])
    )
    signal.signal(signal.SIGTERM, lambda *_: w.stop())  # finish the run in hand, then stop
    signal.signal(signal.SIGINT, lambda *_: w.abort())  # cancel the run in hand and stop
    w.serve(once=once)
