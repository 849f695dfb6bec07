"""What ``pzforge serve`` hands to uvicorn: the application made from the site's settings (its
options, passed to every uvicorn worker process as PZFORGE_* variables), and logging that shows
the user of each request and never a secret."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from pzforge.server.app import create_app
from pzforge.server.settings import ServerSettings


def app_from_env() -> FastAPI:
    return create_app(ServerSettings.from_env())


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging: its own errors, and pzforge's access log (user, method, path, status,
    time; no query strings, headers or signed links) instead of uvicorn's."""
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": fmt}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "pzforge": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }
