"""What a site configures: the database, the site folder, limits, and how people log in.

A site's settings come from ``pzforge serve`` / ``pzforge worker`` options, or the environment
variables named below (a deployment's unit file or container sets them). None of them says who
a request is from: identity comes only from a token, a login session, or - when the site turns
it on - the header its single-sign-on proxy sets.

The site folder (``--site``, default ``./pzforge_site``) holds the signing key of download links
and login sessions (``secret.key``, made on first start, mode 0600), uploads being received
(``uploads/``), built download zips (``cache/zips/``) and the working directories of runs
(``runs/<run id>/``). Server and workers share it (a shared filesystem when they are on several
hosts), as they share the registry's file store.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pzforge.errors import ConfigError

DEFAULT_SITE = "pzforge_site"
KEY_FILE = "secret.key"


@dataclass
class ServerSettings:
    """Settings of one site (server and workers)."""

    registry_url: str | None = None
    """SQLAlchemy URL of the registry (default ./pzforge_registry.sqlite)."""
    site_dir: Path = field(default_factory=lambda: Path(DEFAULT_SITE))
    """Signing key, uploads in progress, download zips, run working directories."""
    storage: str | None = None
    """Root of the registry's file store (default: the one recorded in the database)."""
    upload_limit_mb: float = 200.0
    """Largest upload (all files together), enforced while the upload is read."""
    link_ttl_s: int = 600
    """How long a signed download link works."""
    session_ttl_s: int = 12 * 3600
    """How long a login session lasts."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only (set behind a TLS proxy)."""
    trusted_user_header: str | None = None
    """A header naming the logged-in user, set by the site's single-sign-on proxy (e.g.
    X-Remote-User); honoured only from ``trusted_proxies``. Off by default."""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    """Addresses whose ``trusted_user_header`` is believed."""
    accel_redirect: str | None = None
    """Hand zip downloads to the reverse proxy: ``nginx:/internal-zips/`` (X-Accel-Redirect to
    that internal location) or ``apache`` (X-Sendfile with the file's path)."""
    profiles: tuple[str, ...] = ("local",)
    """Execution profiles runs may ask for (the first is the default)."""
    input_roots: tuple[Path, ...] = ()
    """Server folders a run's config may name files in (default none: inputs are products)."""
    threads: int = int(os.environ.get("PZFORGE_THREADS", "4"))
    """Request handlers running at once in each server process (they hold the GIL)."""
    max_table_rows: int = 5_000_000
    """Largest table served whole as CSV or Parquet by the data endpoint."""
    public_url: str | None = None
    """The site's address as external analysis services reach it (their callback URLs);
    default: the address the request that started the analysis came to."""
    callback_limit_mb: float = 50.0
    """Largest callback body an analysis service may post (results, plots, inference data)."""
    service_timeout_s: float = 30.0
    """How long a request to an analysis service may take (connect and answer)."""
    analysis_sweep_s: float = 30.0
    """How often the server moves analyses past their timeout to timed_out."""

    @classmethod
    def from_env(cls, **given) -> ServerSettings:
        """Options given, else PZFORGE_* environment variables, else defaults."""
        env = os.environ

        def pick(key: str, var: str, cast=str):
            if given.get(key) is not None:
                return given[key]
            if env.get(var):
                try:
                    return cast(env[var])
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r} is not valid") from None
            return None

        def words(text: str) -> tuple[str, ...]:
            return tuple(w.strip() for w in text.split(",") if w.strip())

        values = {
            "registry_url": pick("registry_url", "PZFORGE_REGISTRY_URL"),
            "site_dir": pick("site_dir", "PZFORGE_SITE", Path),
            "storage": pick("storage", "PZFORGE_STORAGE"),
            "upload_limit_mb": pick("upload_limit_mb", "PZFORGE_UPLOAD_LIMIT_MB", float),
            "link_ttl_s": pick("link_ttl_s", "PZFORGE_LINK_TTL_S", int),
            "secure_cookies": pick(
                "secure_cookies", "PZFORGE_SECURE_COOKIES", lambda v: v.lower() in ("1", "true")
            ),
            "trusted_user_header": pick("trusted_user_header", "PZFORGE_TRUSTED_USER_HEADER"),
            "trusted_proxies": pick("trusted_proxies", "PZFORGE_TRUSTED_PROXIES", words),
            "accel_redirect": pick("accel_redirect", "PZFORGE_ACCEL_REDIRECT"),
            "public_url": pick("public_url", "PZFORGE_PUBLIC_URL"),
            "callback_limit_mb": pick("callback_limit_mb", "PZFORGE_CALLBACK_LIMIT_MB", float),
            "service_timeout_s": pick("service_timeout_s", "PZFORGE_SERVICE_TIMEOUT_S", float),
            "analysis_sweep_s": pick("analysis_sweep_s", "PZFORGE_ANALYSIS_SWEEP_S", float),
            "profiles": pick("profiles", "PZFORGE_PROFILES", words),
            "input_roots": pick(
                "input_roots",
                "PZFORGE_INPUT_ROOTS",
                lambda v: tuple(Path(p) for p in words(v.replace(os.pathsep, ","))),
            ),
        }
        settings = cls(**{k: v for k, v in values.items() if v is not None})
        settings.check()
        return settings

    def check(self) -> None:
        self.site_dir = Path(self.site_dir).resolve()
        self.input_roots = tuple(Path(p).resolve() for p in self.input_roots)
        self.profiles = tuple(self.profiles) or ("local",)
        if not self.upload_limit_mb > 0:
            raise ConfigError("the upload limit must be above 0 MB")
        if not self.link_ttl_s > 0:
            raise ConfigError("signed links must live more than 0 seconds")
        if self.accel_redirect and not (
            self.accel_redirect == "apache" or self.accel_redirect.startswith("nginx:/")
        ):
            raise ConfigError(
                "accel_redirect: use nginx:/internal-location/ or apache (docs/server.md)"
            )

    @property
    def upload_limit(self) -> int:
        return int(self.upload_limit_mb * 1024 * 1024)

    def folder(self, name: str) -> Path:
        path = self.site_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def secret_key(self) -> bytes:
        """The site's signing key (made once, kept in the site folder, readable by its owner
        only); every server process and worker of the site reads the same one."""
        path = self.site_dir / KEY_FILE
        if not path.is_file():
            self.site_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)  # the first process to make it wins; the others read it
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return bytes.fromhex(path.read_text().strip())
