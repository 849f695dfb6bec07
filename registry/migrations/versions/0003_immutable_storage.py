"""immutable storage: ids never reused, stored file names and sources, mtimes, settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite reuses the largest rowid after a delete unless the table is AUTOINCREMENT (a
    # rebuild); PostgreSQL sequences never hand a value out twice.
    for table in ("releases", "products", "product_files"):
        kwargs = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}}
        with op.batch_alter_table(table, **(kwargs if sqlite else {})) as batch:
            if table == "product_files":
                batch.add_column(sa.Column("name", sa.String(length=255), nullable=True))
                batch.add_column(sa.Column("source_path", sa.Text(), nullable=True))
                batch.add_column(sa.Column("mtime_ns", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("file_members") as batch:
        batch.add_column(sa.Column("mtime_ns", sa.BigInteger(), nullable=True))
    op.create_table(
        "registry_settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_registry_settings")),
    )


def downgrade() -> None:
    op.drop_table("registry_settings")
    with op.batch_alter_table("file_members") as batch:
        batch.drop_column("mtime_ns")
    with op.batch_alter_table("product_files") as batch:
        batch.drop_column("mtime_ns")
        batch.drop_column("source_path")
        batch.drop_column("name")
