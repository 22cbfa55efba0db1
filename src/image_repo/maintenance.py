"""Keeping rows and files in step: startup recovery and `flask images fsck`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from . import imaging
from .ingest import current_storage, find_by_hash, remove_files
from .models import Image, db, original_key
from .storage import LocalStorage

# A temp file this old is no upload in progress any more.
TEMP_FILE_MAX_AGE = 3600


@dataclass
class Finding:
    kind: str
    key: str
    detail: str
    repaired: bool = False

    def __str__(self) -> str:
        state = "repaired" if self.repaired else "found"
        return f"{state:<8}  {self.kind:<18}  {self.key}  ({self.detail})"


def recover() -> list[Finding]:
    """Undo what a crash left half-done. Run it before any worker serves: every
    temp file is then a leftover, and every pending mark an interrupted store."""
    storage = current_storage()
    findings = [_remove_temp(path) for path in storage.temp_files()]
    findings += [_resolve_pending(storage, name) for name in storage.pending_names()]
    return findings


def fsck(*, repair: bool, verify_hashes: bool = True) -> list[Finding]:
    """Check that rows and files agree; with `repair`, fix what is safe to fix.

    Never deletes a file a row points to: files without a row are deleted
    under the picture's lock, after checking again that no row appeared.
    """
    storage = current_storage()
    rows = {
        sha: (image_format, size)
        for sha, image_format, size in db.session.execute(
            select(Image.sha512, Image.format, Image.file_size)
        )
    }
    findings = list(_check_rows(storage, rows))
    findings += _check_originals(storage, rows, repair, verify_hashes)
    findings += _check_thumbnails(storage, rows, repair)
    findings += _check_temp_files(storage, repair)
    findings += _check_pending(storage, repair)
    return findings


def _check_rows(storage: LocalStorage, rows: dict) -> Iterator[Finding]:
    for sha, (image_format, size) in rows.items():
        key = original_key(sha, image_format)
        path = storage.path(key)
        if not path.is_file():
            yield Finding("missing-original", key, "the row's file is gone; nothing to repair from")
        elif (actual := path.stat().st_size) != size:
            yield Finding("size-mismatch", key, f"{actual} bytes; the row says {size}")


def _check_originals(
    storage: LocalStorage, rows: dict, repair: bool, verify_hashes: bool
) -> Iterator[Finding]:
    for key in storage.keys("originals"):
        sha = key.rsplit("/", 1)[1].partition(".")[0]
        if sha not in rows:
            yield _orphan(storage, "orphan-original", key, sha, repair)
        elif verify_hashes and (actual := _pixel_hash(storage.path(key))) != sha:
            yield Finding("hash-mismatch", key, f"its pixels hash to {actual[:16]}...")


def _check_thumbnails(storage: LocalStorage, rows: dict, repair: bool) -> Iterator[Finding]:
    for key in storage.keys("thumbnails"):
        sha = key.rsplit("/", 1)[1].rpartition("-")[0]
        if sha not in rows:
            yield _orphan(storage, "orphan-thumbnail", key, sha, repair)


def _check_temp_files(storage: LocalStorage, repair: bool) -> Iterator[Finding]:
    now = time.time()
    for path in storage.temp_files():
        if now - path.stat().st_mtime > TEMP_FILE_MAX_AGE:
            if repair:
                yield _remove_temp(path)
            else:
                yield Finding("leftover-temp", f"tmp/{path.name}", "an interrupted upload's")


def _check_pending(storage: LocalStorage, repair: bool) -> Iterator[Finding]:
    for sha in storage.pending_names():
        if repair:
            yield _resolve_pending(storage, sha)
            continue
        with storage.lock(sha):  # a store in progress holds the lock: wait it out
            if storage.is_pending(sha):
                yield Finding("interrupted-store", sha, "a crash left its pending mark")


def _orphan(storage: LocalStorage, kind: str, key: str, sha: str, repair: bool) -> Finding:
    finding = Finding(kind, key, "no row refers to it")
    if repair:
        with storage.lock(sha):
            if find_by_hash(sha) is None:
                storage.delete(key)
                finding.repaired = True
    return finding


def _pixel_hash(path: Path) -> str:
    try:
        with imaging.decode(
            path,
            allowed_formats=list(imaging.FORMATS),
            max_pixels=current_app.config["MAX_IMAGE_PIXELS"],
        ) as picture:
            return picture.sha512
    except imaging.ImageRejected as error:
        return f"nothing: {error}"


def _remove_temp(path: Path) -> Finding:
    path.unlink(missing_ok=True)
    return Finding("leftover-temp", f"tmp/{path.name}", "removed", repaired=True)


def _resolve_pending(storage: LocalStorage, sha: str) -> Finding:
    """A store or delete of `sha` was cut short: keep its files only if its row exists."""
    with storage.lock(sha):
        kept = find_by_hash(sha) is not None
        if not kept:
            remove_files(storage, sha)
        storage.clear_pending(sha)
    outcome = "its row exists: files kept" if kept else "no row: its files removed"
    return Finding("interrupted-store", sha, outcome, repaired=True)
