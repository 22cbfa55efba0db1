"""`flask images rebuild-thumbnails`: make the stored thumbnails again after the
way thumbnails are made has changed (as when they became sRGB).

Each picture's default thumbnail, the one upload makes, is made again from its
original and put in place of the old one; every other size and format is
deleted, to be made again on its first request. Originals are only read. A
picture deleted meanwhile may leave a thumbnail behind, which
`images fsck --repair` removes.
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

from . import thumbnails
from .ingest import current_storage
from .models import Image, db, original_key

PLAIN_PROGRESS_SECONDS = 10


@dataclass
class Outcome:
    rebuilt: int = 0
    failures: list[str] = field(default_factory=list)


Picture = tuple[int, str, str, int | None]  # id, sha512, format, orientation


def rebuild_thumbnails(pictures: list[Picture], step: Callable[[], object]) -> Outcome:
    """Rebuild these pictures' thumbnails, calling `step` after each picture."""
    storage = current_storage()
    outcome = Outcome()
    for image_id, sha512, image_format, orientation in pictures:
        try:
            with storage.open(original_key(sha512, image_format)) as original:
                made = thumbnails.from_original(original, image_format, sha512, orientation)
        except Exception as error:  # noqa: BLE001 - one bad original must not stop the rest
            outcome.failures.append(f"image {image_id}: {type(error).__name__}: {error}")
        else:
            for key, data in made.items():
                storage.put(key, data)
            for key in set(thumbnails.every_key(sha512)) - made.keys():
                storage.delete(key)
            outcome.rebuilt += 1
        step()
    return outcome


def stored_pictures() -> list[Picture]:
    """Every stored picture, oldest first."""
    query = select(Image.id, Image.sha512, Image.format, Image.orientation).order_by(Image.id)
    return [tuple(row) for row in db.session.execute(query)]


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
