"""The registry's Python API: register, list, show products on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import getpass
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry import formats, hashing
from registry.errors import NameCollision, NotFound, RegistryError, SchemaOutdated, ValidationError
from registry.models import (
    FileMember,
    Product,
    ProductColumn,
    ProductFile,
    ProductLineage,
    ProductType,
    Release,
    utcnow,
)
from registry.provenance import ProvenanceRecords

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_SQLITE = "pzforge_registry.sqlite"
ROLES = (
    "ra",
    "dec",
    "z",
    "z_err",
    "z_flag",
    "type",
    "survey",
    "id",
    "magnitude",
    "flux",
    "error",
    "other",
)
FILE_ROLES = ("main", "auxiliary", "description")


@dataclass
class ColumnSpec:
    """A column association: which column plays which role, with its UCD and unit."""

    name: str
    role: str
    ucd: str | None = None
    unit: str | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class KnownDigest:
    """A file's size and sha256 as already measured by whoever wrote it (a pipeline job).

    ``members`` for a collection (relpath, size, sha256); ``mtime_ns`` for a plain file when known.
    The registry trusts it only while the file still has that size (and mtime, and member list).
    """

    size: int
    checksum: str
    members: tuple[tuple[str, int, str], ...] = ()
    mtime_ns: int | None = None

    def matches(self, path: Path) -> bool:
        if path.is_dir():
            if not self.members:
                return False
            on_disk = sorted(
                (p.relative_to(path).as_posix(), p.stat().st_size)
                for p in path.rglob("*")
                if p.is_file() and p.name not in hashing.IGNORED
            )
            return on_disk == sorted((m[0], m[1]) for m in self.members)
        try:
            st = path.stat()
        except OSError:
            return False
        return st.st_size == self.size and self.mtime_ns in (None, st.st_mtime_ns)


@dataclass
class FileInfo:
    role: str
    path: str
    size: int
    checksum: str
    checksum_algorithm: str
    format: str
    media_type: str
    copied: bool
    n_members: int


@dataclass
class ProductInfo:
    id: int
    name: str
    internal_name: str
    product_type: str
    release: str | None
    owner: str
    official: bool
    description: str
    status: str
    created_at: datetime
    updated_at: datetime
    run_id: str | None
    supersedes_id: int | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["updated_at"] = self.updated_at.isoformat()
        return d


@dataclass
class ProductDetail(ProductInfo):
    files: list[FileInfo] = field(default_factory=list)
    columns: list[ColumnSpec] = field(default_factory=list)
    superseded_by: int | None = None


@dataclass
class Registration:
    """What registering a version did: the product, the version it supersedes, or nothing new."""

    product: ProductInfo
    supersedes: int | None
    unchanged: bool


def _info(p: Product) -> ProductInfo:
    return ProductInfo(
        id=p.id,
        name=p.name,
        internal_name=p.internal_name,
        product_type=p.product_type.name,
        release=p.release.name if p.release else None,
        owner=p.owner,
        official=p.official,
        description=p.description,
        status=p.status,
        created_at=p.created_at,
        updated_at=p.updated_at,
        run_id=p.run_id,
        supersedes_id=p.supersedes_id,
    )


def internal_name(product_id: int, name: str) -> str:
    return f"{product_id}_{'_'.join(name.split())}"


def default_url() -> str:
    return os.environ.get("PZFORGE_REGISTRY_URL") or f"sqlite:///{Path.cwd() / DEFAULT_SQLITE}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, a busy timeout, WAL and BEGIN IMMEDIATE."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

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
    return create_engine(url, pool_pre_ping=True)


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


DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024  # bytes, as Photo-z Server


def storage_dir() -> Path:
    """Where uploaded (copied) files live: PZFORGE_STORAGE, else pzforge_storage/ beside the CWD."""
    return Path(os.environ.get("PZFORGE_STORAGE") or Path.cwd() / "pzforge_storage")


def upload_limit() -> int:
    value = os.environ.get("PZFORGE_UPLOAD_LIMIT_MB")
    return int(float(value) * 1024 * 1024) if value else DEFAULT_UPLOAD_LIMIT


class _ProductOperations:
    """Upload, download, update, delete: the Registry's second half, kept apart for readability."""

    def upload(
        self: Registry,
        name: str,
        product_type: str,
        main_file: Path,
        *,
        aux_files: Sequence[Path] = (),
        description: str = "",
        columns: Sequence[ColumnSpec] = (),
        release: str | None = None,
        limit_bytes: int | None = None,
    ) -> ProductInfo:
        """Copy files into the registry's storage and register them; all or nothing.

        Files are copied to a temporary folder first, the rows are inserted in one transaction, and
        the folder is renamed to the product's internal name only after the commit; any failure
        removes the copies, so no copied file is left without a row and no row without its files.
        """
        import shutil
        import tempfile

        limit = upload_limit() if limit_bytes is None else limit_bytes
        paths = [Path(main_file), *map(Path, aux_files)]
        for p in paths:
            if not p.exists():
                raise ValidationError(f"file {p} does not exist")
            if p.is_dir():
                raise ValidationError(
                    f"{p} is a directory; upload files (register HATS catalogs by reference)"
                )
        total = sum(p.stat().st_size for p in paths)
        if total > limit:
            raise ValidationError(
                f"upload of {total / 2**20:.1f} MB is over the limit of {limit / 2**20:.0f} MB; register large "
                "files by reference (pipelines do), or raise PZFORGE_UPLOAD_LIMIT_MB"
            )
        fmt = formats.format_of(paths[0]) or "other"
        with self.session() as s:
            ptype = self._type(s, product_type)
            if ptype.tabular and fmt not in ("csv", "fits", "hdf5", "parquet"):
                raise ValidationError(
                    f"{ptype.name} uploads must be CSV, FITS, HDF5 or Parquet (got {paths[0].name})"
                )
        self._validate_table(ptype_name=product_type, path=paths[0], fmt=fmt, columns=columns)
        root = storage_dir()
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
        try:
            copies = []
            for p in paths:
                target = staging / p.name
                if target.exists():
                    raise ValidationError(f"two files are named {p.name}; rename one")
                shutil.copy2(p, target)
                copies.append(target)
            info = self.register_product(
                name,
                product_type,
                copies[0],
                aux_files=copies[1:],
                description=description,
                columns=columns,
                release=release,
                _copied=True,
            )
            final = root / info.internal_name
            staging.rename(final)
            with self.session() as s:
                for f in self._product(s, info.id).files:
                    f.path = str(final / Path(f.path).name)
            return info
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _validate_table(
        self: Registry, *, ptype_name: str, path: Path, fmt: str, columns: Sequence[ColumnSpec]
    ) -> None:
        """Numeric where it must be: ra, dec, z, z_err, magnitudes, fluxes and errors."""
        with self.session() as s:
            ptype = self._type(s, ptype_name)
            self._check_columns(ptype, path, fmt, columns)
            tabular = ptype.tabular
        if not tabular or not columns:
            return
        numeric_roles = {"ra", "dec", "z", "z_err", "magnitude", "flux", "error"}
        wanted = [c for c in columns if c.role in numeric_roles]
        if not wanted:
            return
        df = formats.read_table(path, fmt)
        for c in wanted:
            if not pd_is_numeric(df[c.name]):
                raise ValidationError(
                    f"column {c.name!r} (role {c.role}) of {path.name} is not numeric"
                )

    def download(self: Registry, ref: int | str, destination: Path) -> Path:
        """A .zip with every file of the product (HATS catalogs as folders), metadata.json and
        its provenance as PROV-JSON (provenance.prov.json)."""
        import json
        import zipfile

        detail = self.get_product(ref)
        destination = Path(destination)
        if destination.is_dir():
            destination = destination / f"{detail.internal_name}.zip"
        tmp = destination.with_name(destination.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in detail.files:
                src = Path(f.path)
                if not src.exists():
                    raise NotFound(
                        f"file {src} of product {detail.internal_name} is missing on disk"
                    )
                if src.is_dir():
                    for member in sorted(src.rglob("*")):
                        if member.is_file() and member.name not in hashing.IGNORED:
                            zf.write(member, f"{src.name}/{member.relative_to(src).as_posix()}")
                else:
                    zf.write(src, src.name)
            meta = detail.to_dict()
            meta["files"] = [asdict(f) for f in detail.files]
            meta["columns"] = [asdict(c) for c in detail.columns]
            zf.writestr("metadata.json", json.dumps(meta, indent=2, default=str))
            zf.writestr("provenance.prov.json", self.export_prov_json([detail.id]))
        tmp.replace(destination)
        return destination

    def get_dataframe(self: Registry, ref: int | str):
        """The main file of a tabular product as a pandas DataFrame."""
        detail = self.get_product(ref)
        main = next(f for f in detail.files if f.role == "main")
        if main.format not in formats.TABULAR:
            raise ValidationError(f"product {detail.internal_name} is not tabular ({main.format})")
        return formats.read_table(Path(main.path), main.format)

    def _may_edit(self: Registry, product: Product) -> None:
        from registry.errors import PermissionDenied

        if product.owner != self.user and self.user not in self.admins:
            raise PermissionDenied(
                f"{self.user} may not change {product.internal_name}: only its owner ({product.owner}) or an admin can"
            )

    def update(
        self: Registry,
        ref: int | str,
        *,
        description: str | None = None,
        release: str | None = None,
        name: str | None = None,
    ) -> ProductInfo:
        """Change metadata (owner or admin). Renaming keeps the internal name stable."""
        with self.session() as s:
            p = self._product(s, ref)
            self._may_edit(p)
            if description is not None:
                p.description = description
            if release is not None:
                p.release = self._release(s, release)
            if name is not None:
                p.name = name
            p.updated_at = utcnow()
            s.flush()
            return _info(p)

    def set_official(self: Registry, ref: int | str, official: bool = True) -> ProductInfo:
        from registry.errors import PermissionDenied

        if self.user not in self.admins:
            raise PermissionDenied(
                f"only admins may mark products official; {self.user} is not one (PZFORGE_ADMINS)"
            )
        with self.session() as s:
            p = self._product(s, ref)
            p.official = official
            p.updated_at = utcnow()
            s.flush()
            return _info(p)

    def delete(self: Registry, ref: int | str) -> None:
        """Delete a product (owner or admin); files the registry copied are removed, referenced ones kept."""
        import shutil

        with self.session() as s:
            p = self._product(s, ref)
            self._may_edit(p)
            copied = [Path(f.path) for f in p.files if f.copied]
            for newer in s.scalars(select(Product).where(Product.supersedes_id == p.id)):
                newer.supersedes_id = p.supersedes_id  # keep the version chain connected
            s.delete(p)
        folders = {c.parent for c in copied}
        for c in copied:
            c.unlink(missing_ok=True)
        for folder in folders:
            if folder.parent == storage_dir() and folder.is_dir() and not any(folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)


def pd_is_numeric(series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


class Registry(_ProductOperations, ProvenanceRecords):
    """A product registry behind one SQLAlchemy URL."""

    def __init__(
        self, engine: Engine, *, user: str | None = None, admins: Sequence[str] | None = None
    ):
        self.engine = engine
        self.user = user or os.environ.get("PZFORGE_USER") or getpass.getuser()
        env_admins = [
            a.strip() for a in os.environ.get("PZFORGE_ADMINS", "").split(",") if a.strip()
        ]
        self.admins = set(admins if admins is not None else env_admins)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            engine.execution_options(readonly=True), expire_on_commit=False
        )

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        user: str | None = None,
        admins: Sequence[str] | None = None,
        auto_create: bool = True,
    ) -> Registry:
        """Open a registry; an empty database is created, an outdated one must be upgraded."""
        engine = make_engine(url or default_url())
        registry = cls(engine, user=user, admins=admins)
        registry._check_schema(auto_create)
        return registry

    def _check_schema(self, auto_create: bool) -> None:
        head = head_revision()
        try:
            current = current_revision(self.engine)
        except OperationalError as exc:
            raise RegistryError(f"cannot open the registry at {self.url}: {exc.orig}") from exc
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
        finally:
            session.close()

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

    def _product(self, s: Session, ref: int | str) -> Product:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            p = s.get(Product, int(ref))
        else:
            p = s.scalar(select(Product).where(Product.internal_name == ref))
        if p is None:
            raise NotFound(
                f"no product {ref!r} (give an id or an internal name; `pzforge products list` shows them)"
            )
        return p

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
        copy: bool = False,
        official: bool = False,
        derived_from: Sequence[int | str] = (),
        known: Mapping[str, KnownDigest] | None = None,
        _copied: bool = False,
    ) -> ProductInfo:
        """Register a product whose files stay where they are (pipelines; no size limit).

        Everything is checked and hashed before the one transaction that inserts the product,
        its files and its columns, so a failure leaves nothing behind.
        """
        if copy:
            raise ValidationError(
                "register_product records files by reference; use upload() to copy files"
            )
        if not name.strip():
            raise ValidationError("a product needs a name")
        main_file = Path(main_file)
        known = known or {}
        files = [self._describe_file(main_file, "main", known)]
        files += [self._describe_file(Path(p), "auxiliary", known) for p in aux_files]
        files += [self._describe_file(Path(p), "description", known) for p in description_files]
        for f in files:
            f["copied"] = _copied
        with self.session() as s:
            ptype = self._type(s, product_type)
            self._check_columns(ptype, main_file, files[0]["format"], columns)
            rel = self._release(s, release)
            self._check_name(s, name, ptype, supersedes)
            product = Product(
                name=name,
                internal_name=f"pending-{uuid.uuid4()}",
                product_type=ptype,
                release=rel,
                owner=owner or self.user,
                official=official,
                description=description,
                run_id=run_id,
                supersedes_id=supersedes,
                status="registered",
            )
            s.add(product)
            s.flush()
            product.internal_name = internal_name(product.id, name)
            for ref in derived_from:
                source = self._product(s, ref)
                s.add(ProductLineage(product_id=product.id, source_id=source.id))
            for f in files:
                members = f.pop("members")
                pf = ProductFile(product=product, **f)
                s.add(pf)
                for m in members:
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
            return _info(product)

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
                    return Registration(_info(newest), newest.supersedes_id, unchanged=True)
            newest_id = newest.id if newest is not None else None
        info = self.register_product(
            name,
            product_type,
            Path(main_file),
            aux_files=aux_files,
            supersedes=newest_id,
            known={
                main["path"]: KnownDigest(
                    main["size"],
                    main["checksum"],
                    tuple((m.relpath, m.size, m.checksum) for m in main["members"]),
                )
            }
            | dict(known or {}),
            **kwargs,
        )
        return Registration(info, newest_id, unchanged=False)

    def main_file(
        self, ref: int | str, product_type: str | None = None
    ) -> tuple[ProductInfo, FileInfo]:
        """A product and its main file, read only; ``product_type`` given: it must be that type."""
        detail = self.get_product(ref)
        if product_type and detail.product_type != product_type:
            raise ValidationError(
                f"product {detail.internal_name} is a {detail.product_type}, not a {product_type}; "
                f"give a {product_type.lower()}"
            )
        mains = [f for f in detail.files if f.role == "main"]
        if not mains:
            raise NotFound(f"product {detail.internal_name} has no main file")
        return detail, mains[0]

    def _describe_file(
        self, path: Path, role: str, known: Mapping[str, KnownDigest] | None = None
    ) -> dict[str, Any]:
        """Size, sha256 (and members) of a file: the caller's measurement while it still matches
        the file on disk (no second hashing pass over pipeline outputs), else hashed here."""
        if not path.exists():
            raise ValidationError(f"{role} file {path} does not exist")
        fmt = formats.format_of(path) or "other"
        digest = (known or {}).get(str(path.resolve()))
        if digest is not None and digest.matches(path):
            members = [hashing.Member(*m) for m in digest.members]
            size, checksum = digest.size, digest.checksum
        elif path.is_dir():
            members = hashing.collection_members(path)
            if not members:
                raise ValidationError(f"{role} file {path} is an empty directory")
            size, checksum = sum(m.size for m in members), hashing.collection_digest(members)
        else:
            try:
                members, size, checksum = [], path.stat().st_size, hashing.sha256_file(path)
            except OSError as exc:
                raise ValidationError(f"{role} file {path} cannot be read: {exc.strerror}") from exc
        return {
            "role": role,
            "path": str(path.resolve()),
            "size": size,
            "checksum": checksum,
            "checksum_algorithm": hashing.ALGORITHM,
            "format": fmt,
            "media_type": formats.MEDIA_TYPES[fmt],
            "copied": False,
            "n_members": len(members),
            "members": members,
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
                self._product(s, supersedes)
            return
        if supersedes != latest.id:
            raise NameCollision(
                f"a {ptype.name} named {name!r} already exists ({latest.internal_name}); choose another "
                f"name, or register a new version that supersedes product {latest.id}"
            )

    # --- queries ---------------------------------------------------------------------------

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
    ) -> list[ProductInfo]:
        """Products matching every filter given (name is a case-insensitive substring)."""
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
            q = select(Product)
            if product_type:
                q = q.where(Product.product_type_id == self._type(s, product_type).id)
            if release:
                q = q.where(Product.release_id == self._release(s, release).id)
            if name:
                q = q.where(Product.name.ilike(f"%{name}%"))
            if owner:
                q = q.where(Product.owner == owner)
            if official is not None:
                q = q.where(Product.official.is_(official))
            if created_after:
                q = q.where(Product.created_at >= created_after)
            if created_before:
                q = q.where(Product.created_at < created_before)
            col = sortable[order_by]
            q = q.order_by(col.desc() if descending else col, Product.id)
            if limit:
                q = q.limit(limit)
            return [_info(p) for p in s.scalars(q).unique().all()]

    def get_product(self, ref: int | str) -> ProductDetail:
        with self.session(readonly=True) as s:
            p = self._product(s, ref)
            newer = s.scalar(select(Product.id).where(Product.supersedes_id == p.id).limit(1))
            files = [
                FileInfo(
                    role=f.role,
                    path=f.path,
                    size=f.size,
                    checksum=f.checksum,
                    checksum_algorithm=f.checksum_algorithm,
                    format=f.format,
                    media_type=f.media_type,
                    copied=f.copied,
                    n_members=f.n_members,
                )
                for f in p.files
            ]
            cols = [
                ColumnSpec(name=c.name, role=c.role, ucd=c.ucd, unit=c.unit, dtype=c.dtype)
                for c in p.columns
            ]
            return ProductDetail(**asdict(_info(p)), files=files, columns=cols, superseded_by=newer)
