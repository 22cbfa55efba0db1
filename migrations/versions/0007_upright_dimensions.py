"""upright dimensions: width and height as a viewer shows the picture

Rows stored before this kept the pixels' stored size; a picture whose EXIF
orientation turns it a quarter (5 to 8) is shown with width and height swapped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

QUARTER_TURNS = (5, 6, 7, 8)
pictures = sa.table(
    "pictures",
    sa.column("id", sa.Integer),
    sa.column("width", sa.Integer),
    sa.column("height", sa.Integer),
    sa.column("orientation", sa.SmallInteger),
)
# Records carry copies of their picture's width and height.
images = sa.table(
    "images",
    sa.column("picture_id", sa.Integer),
    sa.column("width", sa.Integer),
    sa.column("height", sa.Integer),
)


def _swap_width_and_height():
    """Row by row with bound values: `SET width=height, height=width` swaps on
    SQLite, but MySQL assigns left to right and would copy height into both."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(pictures.c.id, pictures.c.width, pictures.c.height).where(
            pictures.c.orientation.in_(QUARTER_TURNS)
        )
    ).all()
    swapped = [{"row_id": id_, "new_width": height, "new_height": width} for id_, width, height in rows]
    for table, key in ((pictures, pictures.c.id), (images, images.c.picture_id)):
        if swapped:
            bind.execute(
                table.update()
                .where(key == sa.bindparam("row_id"))
                .values(width=sa.bindparam("new_width"), height=sa.bindparam("new_height")),
                swapped,
            )


def upgrade():
    _swap_width_and_height()


def downgrade():
    _swap_width_and_height()
