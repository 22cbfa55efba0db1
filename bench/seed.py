"""Plausible picture records seeded straight into the database, fast.

The list benchmarks measure the query path, so rows go in with multi-row
inserts rather than through uploads: a picture each, with a record of it.

A million of them go in within a minute or so on SQLite, two or three on
MySQL: Core inserts, a batch at a time (the ORM's bulk insert sent a
statement for every row or two, splitting wherever a column is None in one
row and not the next); the indexes built after the rows are in, by sorting,
as a restore builds them; and SHA-512s that begin with the picture's id, so
that their unique index fills at its end instead of all over (no query
measured reads it).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice

from sqlalchemy import insert, select

from image_repo.models import LISTED_FACTS, Image, Picture, User, db

MAKES = ["Canon", "Nikon", "Sony", "Fujifilm", "Apple"]
FORMATS = ["JPEG"] * 14 + ["PNG"] * 3 + ["WEBP"] * 2 + ["GIF"]
OWNERS = 10
START = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 5_000


def numbered_name(n: int, _chance: random.Random) -> str:
    return f"IMG_{n:06d}.jpg"


Facts = Callable[[int, random.Random], dict]


def seed(count: int, name=numbered_name, facts: Facts | None = None) -> None:
    """`count` pictures with a record each, uploaded one minute apart (ids in
    that order), owned in turn by user1..user10; `name(n, chance)` names them,
    and `facts(n, chance)` gives the n-th picture more columns (its perceptual
    hash, its file's checksum).

    Bulk inserts leave the names out of the text search index (see
    textsearch.TextIndex.add_all for filling it)."""
    users = [f"user{n}" for n in range(1, OWNERS + 1)]
    db.session.execute(insert(User), [{"name": user} for user in users])
    owners = db.session.scalars(select(User.id).where(User.name.in_(users)).order_by(User.id))
    rows = _rows(count, name, facts, owners.all())
    with _page_cache(), _indexes_built_after():
        while batch := list(islice(rows, BATCH)):
            db.session.execute(insert(Picture.__table__), [picture for picture, _ in batch])
            db.session.execute(insert(Image.__table__), [record for _, record in batch])
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(db.text("ANALYZE"))
    else:
        db.session.execute(db.text("ANALYZE TABLE pictures, images, users"))
    db.session.commit()


@contextmanager
def _page_cache() -> Iterator[None]:
    """SQLite's page cache at 256 MiB while seeding (the indexes of a million
    rows churn its default 2 MiB), then back to what it was."""
    if db.engine.dialect.name != "sqlite":
        yield
        return
    before = db.session.scalar(db.text("PRAGMA cache_size"))
    db.session.execute(db.text("PRAGMA cache_size = -262144"))
    try:
        yield
    finally:
        db.session.execute(db.text(f"PRAGMA cache_size = {int(before)}"))


@contextmanager
def _indexes_built_after() -> Iterator[None]:
    """The indexes of pictures and records dropped while rows go in, and built
    after: a million rows filling them one by one, in random order, kept
    MySQL's buffer pool writing pages (230 s to seed, against 135-165 s).
    Unique ones stay, and those a foreign key needs (MySQL keeps those)."""
    deferred = [
        index
        for table in (Picture.__table__, Image.__table__)
        for index in sorted(table.indexes, key=lambda index: index.name)
        if not index.unique and not next(iter(index.columns)).foreign_keys
    ]
    for index in deferred:
        index.drop(db.session.connection())
    yield
    for index in deferred:
        index.create(db.session.connection())


def _rows(count: int, name, facts: Facts | None, owners: list[int]) -> Iterator[tuple[dict, dict]]:
    chance = random.Random(count)
    first_id = (db.session.scalar(select(db.func.max(Picture.id))) or 0) + 1
    for n in range(count):
        has_exif = chance.random() < 0.8
        make = MAKES[n % len(MAKES)] if has_exif else None
        uploaded = START + timedelta(minutes=n)
        latitude, longitude = _place(chance)
        picture = {
            "id": first_id + n,
            "sha512": f"{first_id + n:012x}{secrets.token_hex(58)}",
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
            **(facts(n, chance) if facts else {}),
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
