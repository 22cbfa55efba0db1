"""Recovery: finishing or undoing what a process that died left half-done.

A store or delete whose claim outlived its lease (see pictures.py) is
resolved: an unacknowledged store's files go; an interrupted delete is undone
while the original is intact, else finished. Node-local leftovers (temp files
of uploads being received) and the store's own partial writes go after an hour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from . import pictures
from .models import Image, db
from .pictures import STORED, STORING, PictureBusy
from .stores import current_scratch, current_storage, remove_files

# A temp file or partial write this old is no upload in progress any more.
LEFTOVER_AGE = 3600
# How often a request waiting for another one's store of the same picture looks again.
WAIT_STEP = 0.05


@dataclass
class Finding:
    kind: str
    subject: str  # "image 3, 7", "no image", "picture 12"
    detail: str
    repaired: bool = False

    def __str__(self) -> str:
        state = "repaired" if self.repaired else "found"
        return f"{state:<8}  {self.kind:<18}  {self.subject}  {self.detail}"


def images_subject(image_ids: list[int]) -> str:
    if not image_ids:
        return "no image"
    label = "image" if len(image_ids) == 1 else "images"
    return f"{label} {', '.join(map(str, sorted(image_ids)))}"


def recover() -> list[Finding]:
    """Resolve every claim that outlived its lease, and remove old leftovers.

    Safe to run at any time, on any node, beside running servers: it touches
    only what no live process can still be working on.
    """
    findings = [
        finding for sha512 in pictures.stale_claims() if (finding := resolve(sha512)) is not None
    ]
    leftovers = current_scratch().remove_leftovers(LEFTOVER_AGE)
    leftovers += current_storage().remove_partial_writes(LEFTOVER_AGE)
    if leftovers:
        findings.append(
            Finding("leftover-temp", f"{leftovers} file(s)", "an hour old or more: removed", True)
        )
    return findings


def resolve(sha512: str) -> Finding | None:
    """Finish or undo the store or delete of `sha512` if its claim ran out."""
    with pictures.locked(sha512) as picture:
        if picture is None or not pictures.is_stale(picture):
            return None
        state, original_key = picture.state, picture.storage_key
        held = pictures.claim(picture, picture.state)
        image_ids = list(db.session.scalars(select(Image.id).where(Image.picture_id == picture.id)))
    storage = current_storage()
    subject = images_subject(image_ids)
    if state == STORING:
        remove_files(storage, sha512, original_key)
        pictures.release(held, back_to=None)
        kind, outcome = "interrupted-store", "never acknowledged: its files are removed"
    elif image_ids and storage.stat(original_key) is not None:
        pictures.release(held, back_to=STORED)
        kind, outcome = "interrupted-delete", "never acknowledged, original intact: undone"
    else:
        remove_files(storage, sha512, original_key)
        pictures.release(held, back_to=None)
        kind, outcome = "interrupted-delete", "its original was already gone: finished"
    current_app.logger.warning("recovery: picture %s: %s: %s", sha512[:16], kind, outcome)
    return Finding(kind, subject if image_ids else f"picture {held.picture_id}", outcome, True)


def wait_for_picture(sha512: str, stale: bool, deadline: float) -> None:
    """Another request holds the picture: let recovery take a dead one's claim,
    else wait a moment; past the deadline, give up with PictureBusy."""
    if stale:
        resolve(sha512)
        return
    if time.monotonic() > deadline:
        raise PictureBusy("another request is storing or deleting this picture; try again")
    time.sleep(WAIT_STEP)
