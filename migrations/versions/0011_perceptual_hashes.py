"""perceptual hashes: each picture's 64-bit hash and its three indexed bands

Near-duplicates are found through the bands (see image_repo/similarity.py).
Pictures stored before this get their hash from `flask images backfill`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 05:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BANDS = ("hash_band_0", "hash_band_1", "hash_band_2")


def upgrade():
    # Plain ADD COLUMN: SQLite adds a nullable column without copying the table.
    op.add_column("pictures", sa.Column("perceptual_hash", sa.BigInteger(), nullable=True))
    for band in BANDS:
        op.add_column("pictures", sa.Column(band, sa.Integer(), nullable=True))
        op.create_index(op.f(f"ix_pictures_{band}"), "pictures", [band, "perceptual_hash"])


def downgrade():
    for band in BANDS:
        op.drop_index(op.f(f"ix_pictures_{band}"), table_name="pictures")
    # Plain DROP COLUMN too: a batch copy of `pictures` would break the
    # foreign keys that point to it.
    for column in ("perceptual_hash", *BANDS):
        op.drop_column("pictures", column)
