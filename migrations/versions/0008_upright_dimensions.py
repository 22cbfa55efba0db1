"""upright dimensions: width and height as a viewer shows the picture

Rows stored before this kept the pixels' stored size; a picture whose EXIF
orientation turns it a quarter (5 to 8) is shown with width and height swapped.

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-22 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

QUARTER_TURNS = (5, 6, 7, 8)
images = sa.table(
    "images",
    sa.column("id", sa.Integer),
    sa.column("width", sa.Integer),
    sa.column("height", sa.Integer),
    sa.column("orientation", sa.SmallInteger),
)


def _swap_width_and_height():
    """Row by row with bound values: `SET width=height, height=width` swaps on
    SQLite, but MySQL assigns left to right and would copy height into both."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(images.c.id, images.c.width, images.c.height).where(
            images.c.orientation.in_(QUARTER_TURNS)
        )
    ).all()
    if rows:
        bind.execute(
            images.update()
            .where(images.c.id == sa.bindparam("row_id"))
            .values(width=sa.bindparam("new_width"), height=sa.bindparam("new_height")),
            [{"row_id": id_, "new_width": height, "new_height": width} for id_, width, height in rows],
        )


def upgrade():
    _swap_width_and_height()


def downgrade():
    _swap_width_and_height()
