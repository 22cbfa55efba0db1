"""Plausible picture records seeded straight into the database, fast.

The list benchmarks measure the query path, so rows go in with multi-row
inserts rather than through uploads: a picture each, with a record of it.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from image_repo.models import LISTED_FACTS, Image, Picture, User, db

MAKES = ["Canon", "Nikon", "Sony", "Fujifilm", "Apple"]
FORMATS = ["JPEG"] * 14 + ["PNG"] * 3 + ["WEBP"] * 2 + ["GIF"]
OWNERS = 10
START = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 5_000


def numbered_name(n: int, _chance: random.Random) -> str:
    return f"IMG_{n:06d}.jpg"


def seed(count: int, name=numbered_name) -> None:
    """`count` pictures with a record each, uploaded one minute apart (ids in
    that order), owned in turn by user1..user10; `name(n, chance)` names them.

    Bulk inserts leave the names out of the text search index (see
    textsearch.TextIndex.add_all for filling it)."""
    users = [f"user{n}" for n in range(1, OWNERS + 1)]
    db.session.execute(insert(User), [{"name": user} for user in users])
    owners = db.session.scalars(select(User.id).where(User.name.in_(users)).order_by(User.id))
    rows = list(_rows(count, name, owners.all()))
    for start in range(0, count, BATCH):
        batch = rows[start : start + BATCH]
        db.session.execute(insert(Picture), [picture for picture, _ in batch])
        db.session.execute(insert(Image), [record for _, record in batch])
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(db.text("ANALYZE"))
    else:
        db.session.execute(db.text("ANALYZE TABLE pictures, images, users"))
    db.session.commit()


def _rows(count: int, name, owners: list[int]) -> Iterator[tuple[dict, dict]]:
    chance = random.Random(count)
    first_id = (db.session.scalar(select(db.func.max(Picture.id))) or 0) + 1
    for n in range(count):
        has_exif = chance.random() < 0.8
        make = MAKES[n % len(MAKES)] if has_exif else None
        uploaded = START + timedelta(minutes=n)
        latitude, longitude = _place(chance)
        picture = {
            "id": first_id + n,
            "sha512": secrets.token_hex(64),
            "state": "stored",
            "state_since": uploaded,
            "created_at": uploaded,
            "format": FORMATS[n % len(FORMATS)],
            "width": chance.choice([640, 1280, 1920, 3000, 4000, 6000]),
            "height": chance.choice([480, 960, 1080, 2000, 3000, 4000]),
            "file_size": chance.randrange(20_000, 12_000_000),
            "taken_at": (START - timedelta(minutes=chance.randrange(10**6))).replace(tzinfo=None)
            if has_exif
            else None,
            "camera_make": make,
            "camera_model": f"{make} {n % 4}" if make else None,
            "latitude": latitude,
            "longitude": longitude,
        }
        record = {
            "picture_id": picture["id"],
            "original_name": name(n, chance),
            "uploaded_at": uploaded,
            "owner_id": owners[n % OWNERS],
            "source": "upload",
            **{fact: picture[fact] for fact in LISTED_FACTS},
        }
        yield picture, record


def _place(chance: random.Random) -> tuple[float | None, float | None]:
    """Where 30% of the pictures were taken; the rest have no GPS."""
    if chance.random() < 0.3:
        return chance.uniform(-80, 80), chance.uniform(-180, 180)
    return None, None
