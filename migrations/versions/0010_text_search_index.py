"""text search index: the folded names and prompts, and their trigrams

`name=` and `prompt=` list filters are substrings; these tables let them be
found without reading every row (see image_repo/textsearch.py). The index is
filled here for the records and jobs already stored.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 02:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from image_repo.textsearch import TextIndex

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
FOLDED_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(collation="utf8mb4_bin"), *MYSQL)
JOB_ID = sa.String(length=32).with_variant(
    mysql.VARCHAR(charset="ascii", collation="ascii_bin", length=32), *MYSQL
)
# index name -> (the column naming the owner, its type, the owners' table, the
# query giving each owner's text)
INDEXES = {
    "name": (
        "image_id",
        sa.Integer(),
        "images",
        "SELECT id, original_name FROM images WHERE original_name IS NOT NULL ORDER BY id",
    ),
    "prompt": (
        "job_id",
        JOB_ID,
        "generation_jobs",
        "SELECT id, prompt FROM generation_jobs ORDER BY created_at, id",
    ),
}


def upgrade():
    for name, (owner, owner_type, owners, texts_query) in INDEXES.items():
        texts, grams = f"search_{name}_texts", f"search_{name}_grams"
        op.create_table(
            texts,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column(owner, owner_type, nullable=False),
            sa.Column("text", FOLDED_TEXT, nullable=False),
            sa.ForeignKeyConstraint(
                [owner], [f"{owners}.id"], name=op.f(f"fk_{texts}_{owner}_{owners}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{texts}")),
            sa.UniqueConstraint(owner, name=op.f(f"uq_{texts}_{owner}")),
            mysql_charset="utf8mb4",
            sqlite_autoincrement=True,
        )
        op.create_table(
            grams,
            sa.Column("gram", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("text_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.ForeignKeyConstraint(
                ["text_id"], [f"{texts}.id"], name=op.f(f"fk_{grams}_text_id_{texts}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("gram", "text_id", name=op.f(f"pk_{grams}")),
            sqlite_with_rowid=False,
        )
        op.create_index(op.f(f"ix_{grams}_text_id"), grams, ["text_id"])
        connection = op.get_bind()
        index = TextIndex(
            sa.table(texts, sa.column("id"), sa.column(owner), sa.column("text")),
            sa.table(grams, sa.column("gram"), sa.column("text_id")),
            sa.column(owner),
        )
        index.add_all(connection, connection.execute(sa.text(texts_query)).all())


def downgrade():
    for name in INDEXES:
        op.drop_table(f"search_{name}_grams")
        op.drop_table(f"search_{name}_texts")
