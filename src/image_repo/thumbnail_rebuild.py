"""`flask images rebuild-thumbnails`: make the stored thumbnails again after the
way thumbnails are made has changed (as when they became sRGB).

Each picture's default thumbnail, the one upload makes, is made again from its
original and put in place of the old one; every other size and format is
deleted, to be made again on its first request. Originals are only read. A
thumbnail written for a picture deleted meanwhile is removed again.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import click
from sqlalchemy import select
from tqdm import tqdm

from . import pictures, thumbnails
from .maintenance import images_subject
from .models import Image, Picture, db, original_key
from .pictures import STORED
from .stores import current_storage

PLAIN_PROGRESS_SECONDS = 10


@dataclass
class Outcome:
    rebuilt: int = 0
    failures: list[str] = field(default_factory=list)


StoredPicture = tuple[int, str, str, int | None]  # id, sha512, format, orientation


def rebuild_thumbnails(stored: list[StoredPicture], step: Callable[[], object]) -> Outcome:
    """Rebuild these pictures' thumbnails, calling `step` after each picture."""
    storage = current_storage()
    outcome = Outcome()
    for picture_id, sha512, image_format, orientation in stored:
        try:
            with storage.open(original_key(sha512, image_format)) as original:
                made = thumbnails.from_original(original, image_format, sha512, orientation)
        except Exception as error:  # noqa: BLE001 - one bad original must not stop the rest
            subject = images_subject(_image_ids(picture_id))
            outcome.failures.append(f"{subject}: {type(error).__name__}: {error}")
        else:
            for key, data in made.items():
                storage.put(key, data)
            stale = [o.key for o in storage.list(thumbnails.family(sha512)) if o.key not in made]
            storage.delete_many(stale)
            if not pictures.is_stored(sha512):  # deleted meanwhile: keep nothing of it
                storage.delete_many(made)
            outcome.rebuilt += 1
        step()
    return outcome


def _image_ids(picture_id: int) -> list[int]:
    return list(db.session.scalars(select(Image.id).where(Image.picture_id == picture_id)))


def stored_pictures() -> list[StoredPicture]:
    """Every stored picture, oldest first."""
    query = (
        select(Picture.id, Picture.sha512, Picture.format, Picture.orientation)
        .where(Picture.state == STORED)
        .order_by(Picture.id)
    )
    rows = [tuple(row) for row in db.session.execute(query)]
    db.session.commit()
    return rows


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[], object]]:
    """A progress bar on a terminal; elsewhere (cron, a log) a plain line every
    PLAIN_PROGRESS_SECONDS and at the end. Yields the function to call per item."""
    if sys.stderr.isatty():
        with tqdm(total=total, desc=label, unit="image") as bar:
            yield bar.update
        return
    done, last_line = 0, time.monotonic()

    def step() -> None:
        nonlocal done, last_line
        done += 1
        if done == total or time.monotonic() - last_line >= PLAIN_PROGRESS_SECONDS:
            last_line = time.monotonic()
            click.echo(f"{label}: {done}/{total} ({done * 100 // total}%)")

    yield step
