"""owner keyset indexes: one user's pictures in every sort order

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 21:40:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_TABLE = {"sqlite_autoincrement": True}
OWNER_KEYSET = {
    "ix_images_owner_id_uploaded_at_id": ["owner_id", "uploaded_at", "id"],
    "ix_images_owner_id_taken_at_id": ["owner_id", "taken_at", "id"],
    "ix_images_owner_id_file_size_id": ["owner_id", "file_size", "id"],
}


def upgrade():
    # The new indexes lead with owner_id, so the foreign key keeps an index
    # (MySQL refuses to drop the old one before they exist).
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        for name, columns in OWNER_KEYSET.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_owner_id"))


def downgrade():
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.create_index(batch_op.f("ix_images_owner_id"), ["owner_id"], unique=False)
    with op.batch_alter_table("images", table_kwargs=SQLITE_TABLE) as batch_op:
        for name in OWNER_KEYSET:
            batch_op.drop_index(name)
