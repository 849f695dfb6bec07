"""Pipeline inputs given as registry products: a reference becomes a file, read only.

One resolver for every pipeline: ``{"product": 12}`` (an id or internal name) is looked up in the
registry (never created or changed) and its main file used, checked to be of the expected
product type; ``{"path": ...}`` is used as it is. Called on the submitting host only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pzforge import io
from pzforge.errors import InputDataError

# Whom product references are read for: the user a run is for (the CLI: the OS user; a server's
# worker: the requesting user), so a release restricted to groups stays hidden from others.
_READER: ContextVar[str | None] = ContextVar("pzforge_reference_reader", default=None)


@contextlib.contextmanager
def reading_as(user: str | None) -> Iterator[None]:
    """Resolve product references as ``user`` (None: the operating-system user)."""
    token = _READER.set(user)
    try:
        yield
    finally:
        _READER.reset(token)


def current_reader() -> str | None:
    """The user product references are read for now (None: the operating-system user)."""
    return _READER.get()


def locate(
    ref: dict[str, Any], url: str | None, what: str, product_type: str | None = None
) -> dict[str, Any]:
    """Where an input is: ``{"path", "format", "product_id"[, "internal_name"]}``.

    ``what`` names the config section in messages (``reference``, ``input``...).
    """
    if ref.get("product") is not None:
        import registry
        from pzforge.products.site import open_registry, registry_url
        from registry import NotFound, PermissionDenied, SchemaOutdated, ValidationError

        key = f"{what}.product {ref['product']!r}"
        try:
            reg = open_registry(url, user=_READER.get(), auto_create=False)
            detail, main = reg.main_file(ref["product"], product_type)
        except (NotFound, ValidationError, PermissionDenied) as exc:
            raise InputDataError(f"{key}: {exc}") from exc
        except SchemaOutdated as exc:
            missing = "does not exist" in str(exc)
            status = None if missing else registry.status(registry_url(url))
            if missing or status["revision"] is None:  # nothing registered there yet
                shown = registry_url(url) or "./pzforge_registry.sqlite"
                shown = status["url"] if status else shown
                raise InputDataError(
                    f"{key}: no product {ref['product']!r}: the registry "
                    f"({shown}) is empty; set registry.url or "
                    "PZFORGE_REGISTRY_URL to the one that holds it"
                ) from exc
            raise InputDataError(f"{key}: {exc}") from exc
        except Exception as exc:  # connection problems and the like: one line
            raise InputDataError(f"{key}: cannot read the registry ({exc})") from exc
        path = Path(main.path)
        return {
            "path": str(path),
            "format": io.detect_format(path, ref.get("format")),
            "product_id": detail.id,
            "internal_name": detail.internal_name,
        }
    path = Path(ref["path"])
    io.check_readable(path)
    return {
        "path": str(path),
        "format": io.detect_format(path, ref.get("format")),
        "product_id": None,
    }
