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
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_type_created", "product_type_id", "created_at"),
        Index("ix_products_owner", "owner"),
        Index("ix_products_name", "name"),
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
    __tablename__ = "product_files"
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
