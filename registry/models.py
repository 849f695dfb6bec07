"""SQLAlchemy 2.0 typed models of the product registry.

Constraint names follow one naming convention so migrations match on SQLite and PostgreSQL; JSON
columns become JSONB on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ProductType(Base):
    __tablename__ = "product_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tabular: Mapped[bool] = mapped_column(Boolean, default=True)
    required_roles: Mapped[list] = mapped_column(JSONType, default=list)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_type_created", "product_type_id", "created_at"),
        Index("ix_products_owner", "owner"),
        Index("ix_products_name", "name"),
        Index("ix_products_supersedes_id", "supersedes_id"),  # "superseded by" on every show
        Index("ix_products_created_at", "created_at"),  # newest first, without a sort
        {"sqlite_autoincrement": True},  # ids are never reused (share links stay valid)
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    internal_name: Mapped[str] = mapped_column(String(300), unique=True)
    product_type_id: Mapped[int] = mapped_column(ForeignKey("product_types.id"))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"), nullable=True)
    owner: Mapped[str] = mapped_column(String(100))
    official: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="registered")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), nullable=True
    )

    product_type: Mapped[ProductType] = relationship(lazy="joined")
    release: Mapped[Release | None] = relationship(lazy="joined")
    files: Mapped[list[ProductFile]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductFile.id"
    )
    columns: Mapped[list[ProductColumn]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductColumn.id"
    )


class ProductFile(Base):
    """One file (or collection) of a product.

    ``copied``: the file lives in the registry's storage (``path`` relative to its root) and is
    the registry's to delete; otherwise ``path`` is an absolute reference the registry verifies
    but never deletes. ``source_path``: where it was registered from (a pipeline's results), the
    path the provenance records of the jobs that wrote it carry. ``name``: its original name.
    """

    __tablename__ = "product_files"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))  # main | auxiliary | description
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(128))
    checksum_algorithm: Mapped[str] = mapped_column(String(20), default="sha256")
    format: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(100))
    copied: Mapped[bool] = mapped_column(Boolean, default=False)
    n_members: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    product: Mapped[Product] = relationship(back_populates="files")
    members: Mapped[list[FileMember]] = relationship(
        back_populates="file", cascade="all, delete-orphan", order_by="FileMember.relpath"
    )


class FileMember(Base):
    """One file of a collection (a HATS catalog's partitions and metadata files)."""

    __tablename__ = "file_members"
    __table_args__ = (UniqueConstraint("file_id", "relpath"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("product_files.id", ondelete="CASCADE"), index=True
    )
    relpath: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(128))
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    file: Mapped[ProductFile] = relationship(back_populates="members")


class ProductColumn(Base):
    __tablename__ = "product_columns"
    __table_args__ = (UniqueConstraint("product_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    dtype: Mapped[str | None] = mapped_column(String(50), nullable=True)
    role: Mapped[str] = mapped_column(String(20))
    ucd: Mapped[str | None] = mapped_column(String(200), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(50), nullable=True)

    product: Mapped[Product] = relationship(back_populates="columns")


# --- provenance ------------------------------------------------------------------------------
# Runs and jobs have client-made UUIDs (made where they happen, before the database sees them),
# so ingesting the same records twice finds them and changes nothing.


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_pipeline_started", "pipeline", "started_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(100))
    run_name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(20))  # running | success | failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    config: Mapped[dict] = mapped_column(JSONType, default=dict)
    overrides: Mapped[list] = mapped_column(JSONType, default=list)
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    git_dirty: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    git_diff_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    software: Mapped[dict] = mapped_column(JSONType, default=dict)  # package -> version
    profile: Mapped[str | None] = mapped_column(String(255), nullable=True)
    executor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    user: Mapped[str] = mapped_column(String(100), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    workdir: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    jobs: Mapped[list[Job]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="Job.started_at"
    )


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(255))
    wildcards: Mapped[dict] = mapped_column(JSONType, default=dict)
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    threads: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resources: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20))  # success | failed
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    log: Mapped[list] = mapped_column(JSONType, default=list)
    benchmark: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    slurm_job_id: Mapped[str | None] = mapped_column(String(50), nullable=True)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    run: Mapped[Run] = relationship(back_populates="jobs")
    files: Mapped[list[JobFile]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobFile.file_id"
    )


class DataFile(Base):
    """A file (or collection) at a path with given content; shared by every job that touched it."""

    __tablename__ = "data_files"
    __table_args__ = (UniqueConstraint("path", "checksum"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20), default="file")  # file | collection
    members: Mapped[list] = mapped_column(JSONType, default=list)  # [[relpath, size, sha256]]


class JobFile(Base):
    __tablename__ = "job_files"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("data_files.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10), primary_key=True)  # used | generated

    job: Mapped[Job] = relationship(back_populates="files")
    file: Mapped[DataFile] = relationship(lazy="joined")


class ProductLineage(Base):
    """Product ``product_id`` was derived from product ``source_id``."""

    __tablename__ = "product_lineage"
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Setting(Base):
    """Registry-wide settings (e.g. ``storage_root``, fixed when the first file is stored)."""

    __tablename__ = "registry_settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- the shared site: accounts, access by release, the run queue -------------------------------
# Users, groups and tokens have integer ids that pages and the API show (never reused: SQLite
# AUTOINCREMENT, PostgreSQL sequences). Secrets are stored hashed only: a token's sha256, a
# password's argon2 hash.


class User(Base):
    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class GroupMember(Base):
    __tablename__ = "group_members"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ReleaseGroup(Base):
    """A release restricted to groups: only their members (and admins) see its products."""

    __tablename__ = "release_groups"
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiToken(Base):
    """An API token: only its sha256 is stored; ``prefix`` (its first characters) names it."""

    __tablename__ = "api_tokens"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class QueuedRun(Base):
    """A pipeline run asked for through the server; its id is the provenance run id too."""

    __tablename__ = "run_queue"
    __table_args__ = (Index("ix_run_queue_state_submitted", "state", "submitted_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict] = mapped_column(JSONType, default=dict)
    profile: Mapped[str] = mapped_column(String(100), default="local")
    user: Mapped[str] = mapped_column(String(100), index=True)
    # queued | running | success | failed | cancelled | interrupted
    state: Mapped[str] = mapped_column(String(20), default="queued")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    workdir: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[dict] = mapped_column(JSONType, default=dict)
    log_tail: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    products: Mapped[list] = mapped_column(JSONType, default=list)


class AnalysisService(Base):
    """An external analysis service (SkyPortal's idea): where to POST a product's data, what it
    expects, and how long it may take. ``credentials`` is ciphertext made by the caller with the
    site's key (the registry never sees the plain text)."""

    __tablename__ = "analysis_services"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(50), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(Text, default="")
    auth_type: Mapped[str] = mapped_column(String(20), default="none")
    credentials: Mapped[str | None] = mapped_column(Text, nullable=True)
    analysis_type: Mapped[str] = mapped_column(String(50), default="")
    input_types: Mapped[list] = mapped_column(JSONType, default=list)
    columns: Mapped[list] = mapped_column(JSONType, default=list)
    input_format: Mapped[str] = mapped_column(String(20), default="parquet")
    parameters: Mapped[dict] = mapped_column(JSONType, default=dict)  # a JSON Schema
    timeout_s: Mapped[float] = mapped_column(Float, default=3600.0)
    groups: Mapped[list] = mapped_column(JSONType, default=list)
    upload_only: Mapped[bool] = mapped_column(Boolean, default=False)
    is_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Analysis(Base):
    """One analysis of a product by a service: ``pending`` until its single-use callback token
    is claimed (``received``), then ``success`` / ``failure``; or ``timed_out`` / ``cancelled``.
    Only the token's sha256 is stored."""

    __tablename__ = "analyses"
    __table_args__ = (
        Index("ix_analyses_product_user_status", "product_id", "user", "status"),
        Index("ix_analyses_status_expires", "status", "expires_at"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_services.id", ondelete="SET NULL"), nullable=True, index=True
    )
    service_name: Mapped[str] = mapped_column(String(100))
    service_version: Mapped[str] = mapped_column(String(50), default="")
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    user: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    is_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    results: Mapped[dict] = mapped_column(JSONType, default=dict)
    plots: Mapped[list] = mapped_column(JSONType, default=list)
    result_product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), nullable=True
    )


class EmbeddingTask(Base):
    """An embedding asked for through the API (hydro-vis's idea), run by a worker:
    ``PENDING`` -> ``STARTED`` -> ``SUCCESS`` / ``FAILURE``; its result is JSON."""

    __tablename__ = "embedding_tasks"
    __table_args__ = (Index("ix_embedding_tasks_state_submitted", "state", "submitted_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    production_product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), nullable=True
    )
    user: Mapped[str] = mapped_column(String(100), index=True)
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(20), default="PENDING")
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class EmbeddingParams(Base):
    """A product's stored embedding parameters (hydro-vis's GET/POST params per model)."""

    __tablename__ = "embedding_params"
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
