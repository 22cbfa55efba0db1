"""Which files a sync client need not upload: the ones it has stored already.

Answers only about the caller's own records (ownerless ones for an anonymous
caller), so that nobody learns what others stored. The checksum is the
SHA-256 of the whole file as first stored: a file with other bytes but the
same pixels is not known by it, and its upload answers 200 instead.
"""

from __future__ import annotations

from sqlalchemy import func, select

from .models import Image, Picture, User, db
from .pictures import STORED


def own_records(checksums: list[str], owner: User | None) -> list[int | None]:
    """For each file checksum (hex, any case), in order: the id of `owner`'s
    record of a stored picture whose file has it, or None."""
    wanted = {checksum.lower() for checksum in checksums}
    owned = Image.owner_id.is_(None) if owner is None else Image.owner_id == owner.id
    query = (
        select(Picture.file_sha256, func.min(Image.id))
        .join(Image.picture)
        .where(Picture.file_sha256.in_(wanted), Picture.state == STORED, owned)
        .group_by(Picture.file_sha256)
    )
    found = dict(db.session.execute(query).all())
    return [found.get(checksum.lower()) for checksum in checksums]
