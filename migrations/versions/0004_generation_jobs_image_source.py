"""generation jobs; image source

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 13:46:43.862020

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
SQLITE_TABLE = {"sqlite_autoincrement": True}


def utc_datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL)


def upgrade():
    op.create_table(
        "generation_jobs",
        sa.Column(
            "id",
            sa.String(length=32).with_variant(
                mysql.VARCHAR(charset="ascii", collation="ascii_bin", length=32), *MYSQL
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("prompt", sa.String(length=2000), nullable=False),
        sa.Column("final_prompt", sa.Text(), nullable=False),
        sa.Column("style", sa.String(length=64), nullable=True),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("aspect_ratio", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("started_at", utc_datetime(), nullable=True),
        sa.Column("finished_at", utc_datetime(), nullable=True),
        sa.Column("heartbeat_at", utc_datetime(), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.String(length=1000), nullable=True),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("duplicate", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_generation_jobs_image_id_images"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_generation_jobs_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_jobs")),
        mysql_charset="utf8mb4",
    )
    with op.batch_alter_table("generation_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_generation_jobs_image_id"), ["image_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_generation_jobs_owner_id"), ["owner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_generation_jobs_status"), ["status"], unique=False)

    # Should SQLite rebuild the table, keep AUTOINCREMENT on it.
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), server_default="upload", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_images_source"), ["source"], unique=False)


def downgrade():
    # SQLite rebuilds the table to drop the column: keep AUTOINCREMENT on it.
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_source"))
        batch_op.drop_column("source")

    # Its indexes go with it (MySQL refuses to drop the ones its foreign keys use).
    op.drop_table("generation_jobs")
