"""Opening the registry in local mode: the settings a site gives by environment, the OS user.

Local mode promises one user on one machine: the owner/admin checks are guard rails against
mistakes, not security (anyone who can write the database file can do anything). The acting user
is the operating-system account (``pwd``, not ``$USER``, which any process can set); a shared site
runs ``pzforge serve`` where identity comes from tokens only.

Site settings (environment): ``PZFORGE_REGISTRY_URL`` (default ``./pzforge_registry.sqlite``),
``PZFORGE_STORAGE`` (the file store; default beside a SQLite file), ``PZFORGE_STORE_MODE``
(link or copy), ``PZFORGE_UPLOAD_LIMIT_MB`` (default 200), ``PZFORGE_ADMINS`` (comma-separated
user names allowed to edit anything and mark products official, in local mode).
"""

from __future__ import annotations

import os
import pwd

import registry
from pzforge.errors import ConfigError

REGISTRY_URL_ENV = "PZFORGE_REGISTRY_URL"


def os_user() -> str:
    """The operating-system account running this process."""
    return pwd.getpwuid(os.getuid()).pw_name


def registry_url(url: str | None = None) -> str | None:
    """The URL given, else the site's (PZFORGE_REGISTRY_URL), else None (the default file)."""
    return url or os.environ.get(REGISTRY_URL_ENV) or None


def site_settings() -> dict:
    """Storage, store mode, upload limit and admins from the environment, checked."""
    out: dict = {}
    if os.environ.get("PZFORGE_STORAGE"):
        out["storage"] = os.environ["PZFORGE_STORAGE"]
    # Pipeline outputs are hard-linked into the store by default: Snakemake deletes an output
    # before a job writes it again, so a rerun never touches a registered version.
    mode = os.environ.get("PZFORGE_STORE_MODE") or "link"
    if mode not in ("link", "copy"):
        raise ConfigError(f"PZFORGE_STORE_MODE={mode!r}: use link or copy")
    out["store_mode"] = mode
    limit = os.environ.get("PZFORGE_UPLOAD_LIMIT_MB")
    if limit:
        try:
            megabytes = float(limit)
        except ValueError:
            raise ConfigError(
                f"PZFORGE_UPLOAD_LIMIT_MB={limit!r} is not a number of megabytes (e.g. 500)"
            ) from None
        if not megabytes > 0:
            raise ConfigError(f"PZFORGE_UPLOAD_LIMIT_MB={limit!r} must be above 0")
        out["upload_limit"] = int(megabytes * 1024 * 1024)
    out["admins"] = [
        a.strip() for a in os.environ.get("PZFORGE_ADMINS", "").split(",") if a.strip()
    ]
    return out


def open_registry(
    url: str | None = None, *, user: str | None = None, auto_create: bool = True
) -> registry.Registry:
    """The registry at ``url`` (or the site's), acting as ``user`` (default: the OS user)."""
    return registry.open(
        registry_url(url), user=user or os_user(), auto_create=auto_create, **site_settings()
    )
