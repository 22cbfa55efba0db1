"""token expiry

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 01:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQLITE_TABLE = {"sqlite_autoincrement": True}


def upgrade():
    with op.batch_alter_table("api_tokens", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.add_column(
            sa.Column(
                "expires_at",
                sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
                nullable=True,
            )
        )


def downgrade():
    with op.batch_alter_table("api_tokens", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.drop_column("expires_at")
