"""The registry's Python API: register, find, list and show products on SQLite or PostgreSQL.

Every registered file is stored in the registry's own storage (``registry.storage``) and never
changes; reads verify it first (``registry.operations``). The acting user is given by the
caller (the CLI: the OS user; the server: the token's user); nothing here reads it from the
environment.
"""

from __future__ import annotations

import contextlib
import copy
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, inspect, or_, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry import formats, hashing, names
from registry.accounts import AccountRecords
from registry.analyses import AnalysisRecords
from registry.embedding_tasks import EmbeddingTasks
from registry.errors import NameCollision, NotFound, RegistryError, SchemaOutdated, ValidationError
from registry.models import (
    FileMember,
    Product,
    ProductColumn,
    ProductFile,
    ProductLineage,
    ProductType,
    Release,
    Setting,
)
from registry.operations import ProductOperations
from registry.provenance import ProvenanceRecords
from registry.queue import RunQueue
from registry.records import (
    FILE_ROLES,
    ROLES,
    ColumnSpec,
    FileInfo,
    KnownDigest,
    ProductDetail,
    ProductInfo,
    Registration,
    product_info,
)
from registry.storage import Storage, product_folder

__all__ = [
    "FILE_ROLES",
    "ROLES",
    "ColumnSpec",
    "FileInfo",
    "KnownDigest",
    "ProductDetail",
    "ProductInfo",
    "Registration",
    "Registry",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_SQLITE = "pzforge_registry.sqlite"
DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024  # bytes, as the Photo-z Server
STORAGE_KEY = "storage_root"


def default_url() -> str:
    """The registry a command uses when none is given: ``./pzforge_registry.sqlite``."""
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE}"


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, a busy timeout, WAL and BEGIN IMMEDIATE.
    ``options`` go to ``create_engine`` (a server sizes its connection pool this way)."""
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/") == "sqlite:":
            options = {}  # one in-memory database per connection pool: no pool sizes
        engine = create_engine(url, connect_args={"timeout": 60}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - driver hook
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - driver hook
            # Writers take the write lock up front, so concurrent writers queue instead of
            # deadlocking; readers (execution option readonly) do not block anyone (WAL).
            read_only = conn.get_execution_options().get("readonly", False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision (what `pzforge db upgrade` runs)."""
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))  # one migrator at a time
        command.upgrade(alembic_config(conn), "head")
    return head_revision()


def _database_error(url: str, exc: Exception) -> RegistryError:
    reason = getattr(exc, "orig", None) or exc
    return RegistryError(
        f"cannot open the registry at {url}: {reason}; check the URL (PZFORGE_REGISTRY_URL or "
        "--registry) points at a pzforge registry database"
    )


def _inode(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def _same_inodes(staged: Path, source: Path) -> bool:
    """Every staged file is a hard link to the source file at the same place."""
    if staged.is_dir():
        pairs = [(p, source / p.relative_to(staged)) for p in staged.rglob("*") if p.is_file()]
    else:
        pairs = [(staged, source)]
    try:
        return all(_inode(a) == _inode(b) for a, b in pairs)
    except OSError:
        return False


class Registry(
    ProductOperations, ProvenanceRecords, AccountRecords, RunQueue, AnalysisRecords, EmbeddingTasks
):
    """A product registry behind one SQLAlchemy URL.

    ``user`` is the acting user (owner of what it registers; checked for edits, and for reading
    products of releases restricted to groups), ``admins`` users the caller names as allowed to
    edit anything and mark products official (besides the admins in the database); both come from
    the caller. ``operator``: the caller holds the database credentials (the site's own CLI), and
    may manage accounts even before any admin exists.
    ``storage`` is the root of the file store (default: the one recorded in the database, else
    ``pzforge_storage/`` beside a SQLite file, else under the user's data home); ``store_mode``
    copy (the default) or link (hard links where possible: for outputs of pipelines, which
    Snakemake replaces instead of rewriting in place). ``upload_limit`` bounds uploads, in bytes.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        user: str | None = None,
        admins: Sequence[str] = (),
        storage: str | Path | None = None,
        store_mode: str = "copy",
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        operator: bool = False,
    ):
        self.engine = engine
        self.user = user
        self.admins = set(admins)
        self.operator = operator
        self._admin: bool | None = None  # is the acting user an admin (looked up once)
        self._hidden: set[int] | None = None  # releases hidden from them (per-request views)
        self._per_request = False
        self.upload_limit = upload_limit
        self._storage_arg = storage
        self._store_mode = store_mode
        self._storage: Storage | None = None
        self._storage_recorded = False
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            engine.execution_options(readonly=True), expire_on_commit=False
        )

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def acting_as(self, user: str | None, *, admins: Sequence[str] = ()) -> Registry:
        """The same registry (engine, sessions, store) acting as another user: what a server
        makes per request from the token's user. Admin rights come from the database (and
        ``admins``), never from this process's settings. A view is for one request: it looks
        up the user's admin rights and hidden releases once."""
        view = copy.copy(self)
        view.user, view.admins, view.operator, view._admin = user, set(admins), False, None
        view._hidden, view._per_request = None, True  # a request is short: look up once
        return view

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        auto_create: bool = True,
        engine_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Registry:
        """Open a registry; an empty database is created, an outdated one must be upgraded."""
        url = url or default_url()
        if not auto_create and url.startswith("sqlite:///"):
            database = Path(url.split("sqlite:///", 1)[1].split("?", 1)[0])
            if str(database) not in ("", ":memory:") and not database.exists():
                raise SchemaOutdated(f"no registry at {url} (the file does not exist)")
        try:
            engine = make_engine(url, **(engine_options or {}))
        except Exception as exc:  # a malformed URL: one line, not a traceback
            raise RegistryError(f"cannot use registry URL {url!r}: {exc}") from exc
        registry = cls(engine, **kwargs)
        registry._check_schema(auto_create)
        return registry

    def _check_schema(self, auto_create: bool) -> None:
        head = head_revision()
        try:
            current = current_revision(self.engine)
        except Exception as exc:  # not a database, unreachable server, bad credentials
            raise _database_error(self.url, exc) from exc
        if current == head:
            return
        if current is None and auto_create:
            # Empty (or being created by another process right now): upgrade is serialized by a
            # lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) and Alembic re-reads
            # the version inside it, so the loser of a race finds the schema made and does nothing.
            try:
                upgrade(self.engine)
            except Exception as exc:
                if current_revision(self.engine) == head:
                    return
                raise RegistryError(
                    f"cannot create the registry schema at {self.url}: {exc}; is this database "
                    "used by something else? Point PZFORGE_REGISTRY_URL at an empty one"
                ) from exc
            return
        raise SchemaOutdated(
            f"the registry at {self.url} has schema {current or 'unversioned'}, this pzforge needs "
            f"{head}; run `pzforge db upgrade` (back up the database first)"
        )

    @contextlib.contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        session = (self._read_sessions if readonly else self._sessions)()
        try:
            with session.begin():
                yield session
        except IntegrityError as exc:
            raise NameCollision(f"the registry refused the change: {exc.orig}") from exc
        except OperationalError as exc:
            raise _database_error(self.url, exc) from exc
        finally:
            session.close()

    # --- storage ---------------------------------------------------------------------------

    @property
    def storage(self) -> Storage:
        """The file store (its root is fixed in the database by the first registration)."""
        if self._storage is None:
            with self.session(readonly=True) as s:
                row = s.get(Setting, STORAGE_KEY)
                recorded = row.value if row is not None else None
            if self._storage_arg is not None:
                root = Path(self._storage_arg).expanduser().resolve()
            elif recorded is not None:
                root = Path(recorded)
            elif self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database:
                root = Path(self.engine.url.database).resolve().parent / "pzforge_storage"
            else:  # a server database: a per-database folder under the user's data home
                data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share")
                root = data_home / "pzforge" / "storage" / (self.engine.url.database or "default")
            self._storage = Storage(root, self._store_mode)
            self._storage_recorded = recorded is not None
        return self._storage

    def _remember_storage(self) -> Storage:
        """Record the store's root the first time a file goes into it (outside any session)."""
        storage = self.storage
        if not self._storage_recorded:
            # another process may record it first: then its insert wins and ours is dropped
            with contextlib.suppress(NameCollision), self.session() as s:
                if s.get(Setting, STORAGE_KEY) is None:
                    s.add(Setting(key=STORAGE_KEY, value=str(storage.root)))
            self._storage_recorded = True
        storage.root.mkdir(parents=True, exist_ok=True)
        return storage

    def file_path(self, f: ProductFile) -> Path:
        """Where a product file is on disk (stored files are relative to the storage root)."""
        path = Path(f.path)
        return path if path.is_absolute() else self.storage.path(f.path)

    # --- lookups ---------------------------------------------------------------------------

    def product_types(self) -> list[dict[str, Any]]:
        with self.session(readonly=True) as s:
            rows = s.scalars(select(ProductType).order_by(ProductType.id)).all()
            return [
                {
                    "id": t.id,
                    "name": t.name,
                    "description": t.description,
                    "tabular": t.tabular,
                    "required_roles": list(t.required_roles),
                }
                for t in rows
            ]

    def releases(self) -> list[dict[str, Any]]:
        with self.session(readonly=True) as s:
            rows = s.scalars(select(Release).order_by(Release.name)).all()
            return [{"id": r.id, "name": r.name, "description": r.description} for r in rows]

    def add_release(self, name: str, description: str = "") -> None:
        name = names.check_name(name, "release name")
        with self.session() as s:
            if s.scalar(select(Release).where(Release.name == name)):
                raise NameCollision(f"release {name!r} already exists")
            s.add(Release(name=name, description=description))

    def _type(self, s: Session, name: str) -> ProductType:
        t = s.scalar(select(ProductType).where(ProductType.name == name))
        if t is None:
            known = ", ".join(s.scalars(select(ProductType.name).order_by(ProductType.id)))
            raise NotFound(f"unknown product type {name!r}; types: {known}")
        return t

    def _release(self, s: Session, name: str | None) -> Release | None:
        if name is None:
            return None
        r = s.scalar(select(Release).where(Release.name == name))
        if r is None:
            known = ", ".join(s.scalars(select(Release.name).order_by(Release.name))) or "none yet"
            raise NotFound(
                f"unknown release {name!r}; releases: {known} (add one with `pzforge products release-add`)"
            )
        return r

    def _product(self, s: Session, ref: int | str, *, check_access: bool = True) -> Product:
        """A product by id, internal name, ``name@vN`` (version N) or name (its newest version);
        PermissionDenied when the acting user may not read it (a release restricted to groups)."""
        p = None
        if isinstance(ref, int) or (isinstance(ref, str) and names.is_id(ref)):
            p = s.get(Product, int(ref)) if 0 < int(ref) <= names.MAX_ID else None
        elif isinstance(ref, str) and ref.strip():
            ref = ref.strip()
            p = s.scalar(select(Product).where(Product.internal_name == ref))
            if p is None:
                m = names.VERSION_REF.match(ref)
                name, version = (m["name"], int(m["version"])) if m else (ref, None)
                versions = s.scalars(
                    select(Product).where(Product.name == name).order_by(Product.id)
                ).all()
                types = {v.product_type_id for v in versions}
                if len(types) > 1:
                    kinds = ", ".join(sorted({v.product_type.name for v in versions}))
                    raise NotFound(
                        f"{name!r} names products of several types ({kinds}); give an id or an "
                        "internal name"
                    )
                if versions and version is None:
                    p = versions[-1]
                elif versions and 1 <= version <= len(versions):
                    p = versions[version - 1]
                elif versions:
                    raise NotFound(
                        f"{name!r} has versions 1 to {len(versions)}; there is no version {version}"
                    )
        if p is None:
            raise NotFound(
                f"no product {ref!r} (give an id, an internal name, a name or name@vN; "
                "`pzforge products list` shows them)"
            )
        if check_access:
            self._check_visible(s, p)
        return p

    def _version(self, s: Session, p: Product) -> int:
        return s.scalar(
            select(func.count(Product.id)).where(
                Product.name == p.name,
                Product.product_type_id == p.product_type_id,
                Product.id <= p.id,
            )
        )

    # --- registration ----------------------------------------------------------------------

    def register_product(
        self,
        name: str,
        product_type: str,
        main_file: Path,
        *,
        aux_files: Sequence[Path] = (),
        description_files: Sequence[Path] = (),
        description: str = "",
        columns: Sequence[ColumnSpec] = (),
        owner: str | None = None,
        release: str | None = None,
        run_id: str | None = None,
        supersedes: int | None = None,
        official: bool = False,
        derived_from: Sequence[int | str] = (),
        known: Mapping[str, KnownDigest] | None = None,
        store: bool = True,
        store_mode: str | None = None,
    ) -> ProductInfo:
        """Register a product; its files are stored in the registry's storage (``store``, the
        default) or, for catalogs too big to copy that the site keeps elsewhere, referenced where
        they are (``store=False``: verified on every read, never deleted by the registry).

        Everything is checked and hashed (or taken from ``known``) first; the files are staged,
        then the rows are inserted and the staged folder moved to ``products/<id>`` inside one
        transaction, so a failure leaves no row without its files and no file without its row.
        """
        name = names.check_name(name)
        owner = owner or self.user
        if not owner:
            raise ValidationError("registering needs an owner: open the registry with user=...")
        main_file = Path(main_file)
        sources = [(main_file, "main")]
        sources += [(Path(p), "auxiliary") for p in aux_files]
        sources += [(Path(p), "description") for p in description_files]
        known = known or {}
        files = [self._describe_file(path, role, known) for path, role in sources]
        with self.session(readonly=True) as s:
            ptype = self._type(s, product_type)
            self._check_columns(ptype, main_file, files[0]["format"], columns)
            self._check_release_open(s, self._release(s, release))
        if not store:
            return self._insert(
                name, ptype.name, files, columns, owner, release, run_id, supersedes,
                official, derived_from, description, staging=None,
            )  # fmt: skip
        with self._remember_storage().stage(mode=store_mode) as staging:
            for i, ((path, _role), f) in enumerate(zip(sources, files, strict=True)):
                rel = staging.add(path, i)
                self._check_staged(staging.folder / rel, f, path)
                f["stored"] = rel
            return self._insert(
                name, ptype.name, files, columns, owner, release, run_id, supersedes,
                official, derived_from, description, staging=staging,
            )  # fmt: skip

    def _check_staged(self, staged: Path, f: dict[str, Any], source: Path) -> None:
        """The staged copy is what was measured: hard links to the measured, unchanged files
        need no hashing; a copy is hashed (a source rewritten meanwhile is refused)."""
        digest = KnownDigest(
            f["size"],
            f["checksum"],
            tuple((m.relpath, m.size, m.checksum, m.mtime_ns) for m in f["members"]),
            f.get("mtime_ns"),
        )
        if _same_inodes(staged, source) and digest.matches(source):
            return
        if hashing.checksum_path(staged) != f["checksum"]:
            raise ValidationError(
                f"{source} changed while it was being registered; register it again"
            )

    def _insert(
        self,
        name: str,
        product_type: str,
        files: list[dict[str, Any]],
        columns: Sequence[ColumnSpec],
        owner: str,
        release: str | None,
        run_id: str | None,
        supersedes: int | None,
        official: bool,
        derived_from: Sequence[int | str],
        description: str,
        *,
        staging: Any,
    ) -> ProductInfo:
        try:
            with self.session() as s:
                ptype = self._type(s, product_type)
                self._check_name(s, name, ptype, supersedes)
                product = Product(
                    name=name,
                    internal_name=f"pending-{uuid.uuid4()}",
                    product_type=ptype,
                    release=self._release(s, release),
                    owner=owner,
                    official=official,
                    description=description,
                    run_id=run_id,
                    supersedes_id=supersedes,
                    status="registered",
                )
                s.add(product)
                s.flush()
                product.internal_name = names.internal_name(product.id, name)
                for ref in derived_from:
                    source = self._product(s, ref)
                    s.add(ProductLineage(product_id=product.id, source_id=source.id))
                for f in files:
                    stored = f.get("stored")
                    pf = ProductFile(
                        product=product,
                        role=f["role"],
                        path=f"{product_folder(product.id)}/{stored}" if stored else f["path"],
                        size=f["size"],
                        checksum=f["checksum"],
                        checksum_algorithm=f["checksum_algorithm"],
                        format=f["format"],
                        media_type=f["media_type"],
                        copied=stored is not None,
                        n_members=f["n_members"],
                        name=f["name"],
                        source_path=f["path"],
                        mtime_ns=None,
                    )
                    s.add(pf)
                    for m in f["members"]:
                        pf.members.append(
                            FileMember(relpath=m.relpath, size=m.size, checksum=m.checksum)
                        )
                for c in columns:
                    s.add(
                        ProductColumn(
                            product=product,
                            name=c.name,
                            role=c.role,
                            ucd=c.ucd,
                            unit=c.unit,
                            dtype=c.dtype,
                        )
                    )
                s.flush()
                if staging is not None:
                    staging.publish(product.id)
                self._record_mtimes(product)
                return product_info(product, self._version(s, product))
        except BaseException:
            if staging is not None:
                staging.unpublish()
            raise

    def _record_mtimes(self, product: Product) -> None:
        """Size/mtime of each file as stored: the cheap check every read makes."""
        for pf in product.files:
            path = self.file_path(pf)
            if path.is_dir():
                stats = {
                    p.relative_to(path).as_posix(): p.stat().st_mtime_ns
                    for p in path.rglob("*")
                    if p.is_file()
                }
                for m in pf.members:
                    m.mtime_ns = stats.get(m.relpath)
            else:
                pf.mtime_ns = path.stat().st_mtime_ns

    def register_version(
        self,
        name: str,
        product_type: str,
        main_file: Path,
        *,
        aux_files: Sequence[Path] = (),
        known: Mapping[str, KnownDigest] | None = None,
        **kwargs: Any,
    ) -> Registration:
        """Register ``name`` as a new product, or as the next version of the newest product of
        that name and type (it supersedes it). When the newest version's main file has the same
        checksum, nothing is registered: ``unchanged`` is True and that version is returned.
        Other keyword arguments are those of :meth:`register_product`.
        """
        main = self._describe_file(Path(main_file), "main", known)
        with self.session(readonly=True) as s:
            ptype = self._type(s, product_type)
            newest = s.scalar(
                select(Product)
                .where(Product.name == name, Product.product_type_id == ptype.id)
                .order_by(Product.id.desc())
                .limit(1)
            )
            if newest is not None:
                same = any(
                    f.role == "main" and f.checksum == main["checksum"] for f in newest.files
                )
                if same:
                    info = product_info(newest, self._version(s, newest))
                    return Registration(info, newest.supersedes_id, unchanged=True)
            newest_id = newest.id if newest is not None else None
        measured = {
            main["path"]: KnownDigest(
                main["size"],
                main["checksum"],
                tuple((m.relpath, m.size, m.checksum, m.mtime_ns) for m in main["members"]),
                main.get("mtime_ns"),
            )
        }
        info = self.register_product(
            name,
            product_type,
            Path(main_file),
            aux_files=aux_files,
            supersedes=newest_id,
            known=measured | dict(known or {}),
            **kwargs,
        )
        return Registration(info, newest_id, unchanged=False)

    def main_file(
        self, ref: int | str, product_type: str | None = None
    ) -> tuple[ProductInfo, FileInfo]:
        """A product and its main file (verified), read only; ``product_type``: it must be one."""
        detail = self.get_product(ref)
        if product_type and detail.product_type != product_type:
            raise ValidationError(
                f"product {detail.internal_name} is a {detail.product_type}, not a {product_type}; "
                f"give a {product_type.lower()}"
            )
        mains = [f for f in detail.files if f.role == "main"]
        if not mains:
            raise NotFound(f"product {detail.internal_name} has no main file")
        self.verify(detail.id, roles=("main",))
        return detail, mains[0]

    def _describe_file(
        self, path: Path, role: str, known: Mapping[str, KnownDigest] | None = None
    ) -> dict[str, Any]:
        """Size, sha256 (and members) of a file: the caller's measurement while it still matches
        the file on disk (no second hashing pass over pipeline outputs), else hashed here."""
        if path.is_symlink():
            raise ValidationError(
                f"{role} file {path} is a symbolic link; give the file it points to"
            )
        if not path.exists():
            raise ValidationError(f"{role} file {path} does not exist")
        fmt = formats.format_of(path) or "other"
        digest = (known or {}).get(str(path.resolve()))
        mtime = None
        if digest is not None and digest.matches(path):
            members = [hashing.Member(*m[:3], m[3] if len(m) > 3 else None) for m in digest.members]
            size, checksum, mtime = digest.size, digest.checksum, digest.mtime_ns
        elif path.is_dir():
            members = hashing.collection_members(path)
            if not members:
                raise ValidationError(f"{role} file {path} is an empty directory")
            size, checksum = sum(m.size for m in members), hashing.collection_digest(members)
        else:
            try:
                st = path.stat()
                members, size, checksum = [], st.st_size, hashing.sha256_file(path)
                mtime = st.st_mtime_ns
            except OSError as exc:
                raise ValidationError(f"{role} file {path} cannot be read: {exc.strerror}") from exc
        return {
            "role": role,
            "path": str(path.resolve()),
            "name": names.file_label(path.name),
            "size": size,
            "checksum": checksum,
            "checksum_algorithm": hashing.ALGORITHM,
            "format": fmt,
            "media_type": formats.MEDIA_TYPES[fmt],
            "n_members": len(members),
            "members": members,
            "mtime_ns": mtime,
        }

    def _check_columns(
        self, ptype: ProductType, path: Path, fmt: str, columns: Sequence[ColumnSpec]
    ) -> None:
        bad_roles = sorted({c.role for c in columns} - set(ROLES))
        if bad_roles:
            raise ValidationError(f"unknown column role(s) {bad_roles}; roles: {', '.join(ROLES)}")
        if not ptype.tabular:
            return
        if fmt not in formats.TABULAR:
            raise ValidationError(
                f"{ptype.name} is tabular: its main file must be one of {', '.join(formats.TABULAR)} "
                f"(got {path.name})"
            )
        missing_roles = [r for r in ptype.required_roles if r not in {c.role for c in columns}]
        if missing_roles:
            raise ValidationError(
                f"a {ptype.name} must associate columns with {', '.join(ptype.required_roles)}; "
                f"missing: {', '.join(missing_roles)}"
            )
        available = formats.list_columns(path, fmt)
        absent = [c.name for c in columns if c.name not in available]
        if absent:
            raise ValidationError(
                f"column(s) {absent} not in {path.name}; it has: {', '.join(available[:40])}"
            )

    def _check_name(
        self, s: Session, name: str, ptype: ProductType, supersedes: int | None
    ) -> None:
        latest = s.scalar(
            select(Product)
            .where(Product.name == name, Product.product_type_id == ptype.id)
            .order_by(Product.id.desc())
            .limit(1)
        )
        if latest is None:
            if supersedes is not None:
                self._product(s, supersedes, check_access=False)
            return
        if supersedes != latest.id:
            raise NameCollision(
                f"a {ptype.name} named {name!r} already exists ({latest.internal_name}); choose another "
                f"name, or register a new version that supersedes product {latest.id}"
            )

    # --- queries ---------------------------------------------------------------------------

    SORTABLE = ("id", "name", "created_at", "owner", "type")

    def list_products(
        self,
        *,
        product_type: str | None = None,
        release: str | None = None,
        name: str | None = None,
        owner: str | None = None,
        official: bool | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        order_by: str = "id",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ProductInfo]:
        """Products matching every filter given (name is a case-insensitive substring, taken
        literally: ``%`` and ``_`` are characters, not patterns), that the acting user may
        read."""
        sortable = {
            "id": Product.id,
            "name": Product.name,
            "created_at": Product.created_at,
            "owner": Product.owner,
            "type": Product.product_type_id,
        }
        if order_by not in sortable:
            raise ValidationError(f"cannot sort by {order_by!r}; use one of {', '.join(sortable)}")
        with self.session(readonly=True) as s:
            q = self._filtered(
                s, select(Product), product_type, release, name, owner, official,
                created_after, created_before,
            )  # fmt: skip
            col = sortable[order_by]
            q = q.order_by(col.desc() if descending else col, Product.id)
            if offset:
                q = q.offset(offset)
            if limit:
                q = q.limit(limit)
            rows = s.scalars(q).unique().all()
            return [product_info(p, v) for p, v in zip(rows, self._versions(s, rows), strict=True)]

    def count_products(
        self,
        *,
        product_type: str | None = None,
        release: str | None = None,
        name: str | None = None,
        owner: str | None = None,
        official: bool | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> int:
        """How many products :meth:`list_products` finds with these filters (for paging)."""
        with self.session(readonly=True) as s:
            q = self._filtered(
                s, select(func.count(Product.id)), product_type, release, name, owner, official,
                created_after, created_before,
            )  # fmt: skip
            return int(s.scalar(q))

    def _filtered(self, s: Session, q, product_type, release, name, owner, official, after, before):
        if product_type:
            q = q.where(Product.product_type_id == self._type(s, product_type).id)
        if release:
            q = q.where(Product.release_id == self._release(s, release).id)
        if name:
            if self.engine.dialect.name == "sqlite" and name.isascii():
                # SQLite's LIKE ignores the case of ASCII letters already; lower() on every
                # row would double the cost of the scan
                q = q.where(Product.name.contains(name, autoescape=True))
            else:
                q = q.where(Product.name.icontains(name, autoescape=True))
        if owner:
            q = q.where(Product.owner == owner)
        if official is not None:
            q = q.where(Product.official.is_(official))
        hidden = self._hidden_releases(s)
        if hidden:
            q = q.where(or_(Product.release_id.is_(None), Product.release_id.notin_(hidden)))
        if after:
            q = q.where(Product.created_at >= after)
        if before:
            q = q.where(Product.created_at < before)
        return q

    def product_versions(self, ref: int | str) -> list[ProductInfo]:
        """Every version of a product (same name and type), oldest first, that the acting user
        may read."""
        with self.session(readonly=True) as s:
            p = self._product(s, ref)
            hidden = self._hidden_releases(s)
            rows = s.scalars(
                select(Product)
                .where(Product.name == p.name, Product.product_type_id == p.product_type_id)
                .order_by(Product.id)
            ).all()
            return [
                product_info(r, i)
                for i, r in enumerate(rows, 1)
                if r.release_id is None or r.release_id not in hidden
            ]

    def _versions(self, s: Session, rows: Sequence[Product]) -> list[int]:
        """Version numbers of some products (one query for all of them)."""
        keys = {(p.name, p.product_type_id) for p in rows}
        if not keys:
            return []
        ids: dict[tuple[str, int], list[int]] = {}
        q = select(Product.name, Product.product_type_id, Product.id).where(
            Product.name.in_(sorted({k[0] for k in keys}))
        )
        for n, t, i in s.execute(q.order_by(Product.id)):
            ids.setdefault((n, t), []).append(i)
        return [ids[(p.name, p.product_type_id)].index(p.id) + 1 for p in rows]

    def get_product(self, ref: int | str) -> ProductDetail:
        with self.session(readonly=True) as s:
            p = self._product(s, ref)
            newer = s.scalar(select(Product.id).where(Product.supersedes_id == p.id).limit(1))
            files = [
                FileInfo(
                    role=f.role,
                    path=str(self.file_path(f)),
                    size=f.size,
                    checksum=f.checksum,
                    checksum_algorithm=f.checksum_algorithm,
                    format=f.format,
                    media_type=f.media_type,
                    copied=f.copied,
                    n_members=f.n_members,
                    name=f.name or Path(f.path).name,
                    source_path=f.source_path,
                )
                for f in p.files
            ]
            cols = [
                ColumnSpec(name=c.name, role=c.role, ucd=c.ucd, unit=c.unit, dtype=c.dtype)
                for c in p.columns
            ]
            info = product_info(p, self._version(s, p))
            return ProductDetail(**asdict(info), files=files, columns=cols, superseded_by=newer)
