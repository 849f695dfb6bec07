"""Opening a registry and administering its schema: the calls the CLI and the server use.

``open`` returns a :class:`registry.Registry`; ``upgrade`` migrates a database to the newest
schema (Alembic); ``status`` reports where a database stands. The acting user is always passed
in by the caller (the CLI: the OS user; the server: the token's user).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registry.errors import RegistryError
from registry.store import (
    Registry,
    current_revision,
    default_url,
    head_revision,
    make_engine,
)
from registry.store import upgrade as _upgrade_engine


def open(  # noqa: A001 - registry.open(url) reads as it should
    url: str | None = None,
    *,
    user: str | None = None,
    admins: Sequence[str] = (),
    auto_create: bool = True,
    **settings: Any,
) -> Registry:
    """Open the registry at ``url`` (default ./pzforge_registry.sqlite) acting as ``user``.

    ``settings``: ``storage``, ``store_mode``, ``upload_limit`` (see :class:`Registry`).
    """
    return Registry.from_url(url, user=user, admins=admins, auto_create=auto_create, **settings)


def upgrade(url: str | None = None) -> str:
    """Create the schema, or migrate it to the newest revision; returns that revision."""
    engine = make_engine(url or default_url())
    try:
        return _upgrade_engine(engine)
    except Exception as exc:
        raise RegistryError(f"cannot upgrade the registry at {engine.url!r}: {exc}") from exc
    finally:
        engine.dispose()


def status(url: str | None = None) -> dict[str, Any]:
    """The database URL (password hidden), its schema revision and the one this code needs."""
    engine = make_engine(url or default_url())
    shown = engine.url.render_as_string(hide_password=True)
    try:
        return {"url": shown, "revision": current_revision(engine), "needed": head_revision()}
    except Exception as exc:  # not a database, unreachable server
        raise RegistryError(f"cannot read the registry at {shown}: {exc}") from exc
    finally:
        engine.dispose()
