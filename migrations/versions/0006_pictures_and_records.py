"""pictures and records: content stored once, a record per owner; the repository's identity

Every existing image becomes one picture (same id) and one record of it (same
id, so every URL keeps working). The picture takes the content (hash, EXIF,
dimensions...); the record keeps its owner, name, time and source, plus
copies of the facts lists filter and sort on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 01:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
SQLITE_TABLE = {"sqlite_autoincrement": True}
CASELESS = sa.String(length=64).with_variant(sa.String(length=64, collation="NOCASE"), "sqlite")
# Content columns that move from images to pictures (listed facts stay on both).
MOVED = [
    "frame_count",
    "has_alpha",
    "taken_at_offset",
    "lens",
    "orientation",
    "exposure_time",
    "f_number",
    "iso",
    "focal_length",
    "longitude",
    "altitude",
    "exif_json",
]
LISTED = [
    "format",
    "width",
    "height",
    "file_size",
    "taken_at",
    "camera_make",
    "camera_model",
    "latitude",
]


# SQLite rebuilds the table for these changes; its reflection would lose the
# columns' NOCASE collation, so they are spelt out.
def caseless_columns():
    return [sa.Column("camera_make", CASELESS), sa.Column("camera_model", CASELESS)]


def hex_digest(length: int):
    return sa.String(length=length).with_variant(
        mysql.VARCHAR(charset="ascii", collation="ascii_bin", length=length), *MYSQL
    )


def utc_datetime():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL)


def upgrade():
    op.create_table(
        "pictures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha512", hex_digest(128), nullable=False),
        sa.Column("file_sha256", hex_digest(64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_since", utc_datetime(), nullable=False),
        sa.Column("claim", hex_digest(32), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("has_alpha", sa.Boolean(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("taken_at", utc_datetime(), nullable=True),
        sa.Column("taken_at_offset", sa.SmallInteger(), nullable=True),
        sa.Column("camera_make", CASELESS, nullable=True),
        sa.Column("camera_model", CASELESS, nullable=True),
        sa.Column("lens", sa.String(length=128), nullable=True),
        sa.Column("orientation", sa.SmallInteger(), nullable=True),
        sa.Column("exposure_time", sa.Double(), nullable=True),
        sa.Column("f_number", sa.Double(), nullable=True),
        sa.Column("iso", sa.Integer(), nullable=True),
        sa.Column("focal_length", sa.Double(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("altitude", sa.Double(), nullable=True),
        sa.Column("exif_json", sa.Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pictures")),
        sa.UniqueConstraint("sha512", name=op.f("uq_pictures_sha512")),
        mysql_charset="utf8mb4",
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("pictures") as batch_op:
        batch_op.create_index(batch_op.f("ix_pictures_file_sha256"), ["file_sha256"])
        batch_op.create_index(batch_op.f("ix_pictures_state"), ["state"])

    content = ["sha512", *MOVED, *LISTED]
    op.execute(
        f"INSERT INTO pictures (id, state, state_since, created_at, {', '.join(content)}) "
        f"SELECT id, 'stored', uploaded_at, uploaded_at, {', '.join(content)} FROM images"
    )

    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.add_column(sa.Column("picture_id", sa.Integer(), nullable=True))
    op.execute("UPDATE images SET picture_id = id")
    with op.batch_alter_table(
        "images", table_kwargs=SQLITE_TABLE, reflect_args=caseless_columns()
    ) as batch_op:
        batch_op.alter_column("picture_id", existing_type=sa.Integer(), nullable=False)
        # The unique index first: MySQL then uses it for the foreign key.
        batch_op.create_unique_constraint(
            "uq_images_picture_id_owner_id", ["picture_id", "owner_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_images_picture_id_pictures"), "pictures", ["picture_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("uq_images_sha512"), type_="unique")
        batch_op.drop_column("sha512")
        for name in MOVED:
            batch_op.drop_column(name)

    op.create_table(
        "repository",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("uid", hex_digest(32), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("checked_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository")),
        sa.UniqueConstraint("uid", name=op.f("uq_repository_uid")),
        mysql_charset="utf8mb4",
    )


def downgrade():
    """Back to one row per picture: possible only while no picture has more than
    one record and no store or delete is under way."""
    connection = op.get_bind()
    shared = connection.execute(
        sa.text("SELECT COUNT(*) FROM images GROUP BY picture_id HAVING COUNT(*) > 1")
    ).first()
    busy = connection.execute(sa.text("SELECT COUNT(*) FROM pictures WHERE state <> 'stored'"))
    if shared is not None or busy.scalar():
        raise RuntimeError(
            "cannot downgrade: some pictures have several records, or a store is under way"
        )
    op.drop_table("repository")
    with op.batch_alter_table(
        "images", table_kwargs=SQLITE_TABLE, reflect_args=caseless_columns()
    ) as batch_op:
        batch_op.add_column(sa.Column("sha512", hex_digest(128), nullable=True))
        batch_op.add_column(
            sa.Column("frame_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("has_alpha", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("taken_at_offset", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("lens", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("orientation", sa.SmallInteger(), nullable=True))
        for name in ("exposure_time", "f_number"):
            batch_op.add_column(sa.Column(name, sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("iso", sa.Integer(), nullable=True))
        for name in ("focal_length", "longitude", "altitude"):
            batch_op.add_column(sa.Column(name, sa.Double(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "exif_json", sa.Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL), nullable=True
            )
        )
    for name in ["sha512", *MOVED]:
        op.execute(
            f"UPDATE images SET {name} = "
            f"(SELECT pictures.{name} FROM pictures WHERE pictures.id = images.picture_id)"
        )
    with op.batch_alter_table(
        "images", table_kwargs=SQLITE_TABLE, reflect_args=caseless_columns()
    ) as batch_op:
        batch_op.alter_column("sha512", existing_type=hex_digest(128), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_images_sha512"), ["sha512"])
        batch_op.drop_constraint(batch_op.f("fk_images_picture_id_pictures"), type_="foreignkey")
        batch_op.drop_constraint("uq_images_picture_id_owner_id", type_="unique")
        batch_op.drop_column("picture_id")
    op.drop_table("pictures")
