"""exif columns, frame count and alpha; list indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 13:44:06.944195

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
SQLITE_TABLE = {"sqlite_autoincrement": True}
CASELESS = sa.String(length=64).with_variant(sa.String(length=64, collation="NOCASE"), "sqlite")
INDEXED = ["camera_make", "camera_model", "format", "height", "latitude", "width"]
KEYSET = {
    "ix_images_file_size_id": ["file_size", "id"],
    "ix_images_taken_at_id": ["taken_at", "id"],
    "ix_images_uploaded_at_id": ["uploaded_at", "id"],
}


def upgrade():
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        # Rows stored before this revision get the common values: finding the
        # real ones would mean decoding every stored file again.
        batch_op.add_column(
            sa.Column("frame_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("has_alpha", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "taken_at",
                sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("taken_at_offset", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("camera_make", CASELESS, nullable=True))
        batch_op.add_column(sa.Column("camera_model", CASELESS, nullable=True))
        batch_op.add_column(sa.Column("lens", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("orientation", sa.SmallInteger(), nullable=True))
        for name in ("exposure_time", "f_number"):
            batch_op.add_column(sa.Column(name, sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("iso", sa.Integer(), nullable=True))
        for name in ("focal_length", "latitude", "longitude", "altitude"):
            batch_op.add_column(sa.Column(name, sa.Double(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "exif_json", sa.Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL), nullable=True
            )
        )
        for column in INDEXED:
            batch_op.create_index(batch_op.f(f"ix_images_{column}"), [column], unique=False)
        for name, columns in KEYSET.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        for name in KEYSET:
            batch_op.drop_index(name)
        for column in INDEXED:
            batch_op.drop_index(batch_op.f(f"ix_images_{column}"))
        for column in (
            "exif_json",
            "altitude",
            "longitude",
            "latitude",
            "focal_length",
            "iso",
            "f_number",
            "exposure_time",
            "orientation",
            "lens",
            "camera_model",
            "camera_make",
            "taken_at_offset",
            "taken_at",
            "has_alpha",
            "frame_count",
        ):
            batch_op.drop_column(column)
