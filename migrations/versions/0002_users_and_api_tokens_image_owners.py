"""users and api tokens; image owners

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 13:37:40.131222

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
SQLITE_TABLE = {"sqlite_autoincrement": True}


def utc_datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL)


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        mysql_charset="utf8mb4",
        sqlite_autoincrement=True,
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "token_sha256",
            sa.String(length=64).with_variant(
                mysql.VARCHAR(charset="ascii", collation="ascii_bin", length=64), *MYSQL
            ),
            nullable=False,
        ),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("last_used_at", utc_datetime(), nullable=True),
        sa.Column("revoked_at", utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
        mysql_charset="utf8mb4",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    # SQLite rebuilds the table for the foreign key: keep AUTOINCREMENT on it.
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_images_owner_id"), ["owner_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_images_owner_id_users"),
            "users",
            ["owner_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_images_owner_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_images_owner_id"))
        batch_op.drop_column("owner_id")

    # Its index goes with it (MySQL refuses to drop an index a foreign key uses).
    op.drop_table("api_tokens")
    op.drop_table("users")
