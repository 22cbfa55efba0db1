"""images: one row per stored picture

Revision ID: 0001
Revises:
Create Date: 2026-11-21 13:29:49.657164

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")


def upgrade():
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "sha512",
            sa.String(length=128).with_variant(
                mysql.VARCHAR(charset="ascii", collation="ascii_bin", length=128), *MYSQL
            ),
            nullable=False,
        ),
        sa.Column("original_name", sa.String(length=255), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("sha512", name=op.f("uq_images_sha512")),
        mysql_charset="utf8mb4",
        sqlite_autoincrement=True,
    )


def downgrade():
    op.drop_table("images")
