"""Who may store, attach to or delete a picture, decided in the database.

Every process on every node shares the database and the store, nothing else,
so a picture's row is where they meet:

- `locked(sha512)` holds the row (on SQLite, the database's write lock) for
  one short transaction: "is it stored? then add a record" is one step;
- a store inserts the row as `storing` with a claim token, writes the files
  outside any transaction, then flips it to `stored` and adds the first
  record in one transaction; records only ever point at `stored` pictures;
- the delete of a picture's last record marks it `deleting`, removes the
  files, then removes record and row together;
- a claim older than STORE_LEASE seconds belongs to a process that died:
  `maintenance.resolve` finishes or undoes its work.

Nothing here touches the store: the callers (ingest.py, deletion.py,
maintenance.py) do, between these transactions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from .models import Image, Picture, User, db, utcnow

STORING, STORED, DELETING = "storing", "stored", "deleting"

# Statements every upload runs, built once (see find_stored_by_file, _set_state).
_PICTURES = Picture.__table__
_STORED_BY_FILE = (
    select(_PICTURES.c.sha512)
    .where(_PICTURES.c.file_sha256 == bindparam("file_sha256"), _PICTURES.c.state == STORED)
    .limit(1)
)
_SET_STATE = (
    update(_PICTURES)
    .where(_PICTURES.c.id == bindparam("picture_id"), _PICTURES.c.claim == bindparam("token"))
    .values(
        state=bindparam("state"), state_since=bindparam("state_since"), claim=bindparam("claim")
    )
)


class PictureBusy(Exception):
    """Another request is storing or deleting this picture right now."""


@dataclass(frozen=True)
class Claim:
    """The right to finish a store or a delete, as long as the row still carries `token`."""

    picture_id: int
    sha512: str
    token: str


def lease() -> timedelta:
    return timedelta(seconds=current_app.config["STORE_LEASE"])


def is_stale(picture: Picture, now: datetime | None = None) -> bool:
    return picture.state != STORED and picture.state_since < (now or utcnow()) - lease()


@contextmanager
def locked(sha512: str) -> Iterator[Picture | None]:
    """The picture's row (None if there is none), locked until the block ends;
    the block's changes are committed then, or rolled back on an error.

    The lock (see `_lock`) comes first, so that what the block reads is the
    latest committed state.
    """
    try:
        _lock(sha512)
        yield db.session.scalar(
            select(Picture)
            .where(Picture.sha512 == sha512)
            .execution_options(populate_existing=True)
        )
        _commit_as_loaded()
    except BaseException:
        db.session.rollback()
        raise


def _lock(sha512: str) -> None:
    """Lock the picture's row for this transaction: a no-op UPDATE, which takes
    the database's write lock on SQLite; on MySQL, the row's entry in the
    sha512 index, then the row. Whoever removes the row locks it this way
    first: removing it through its id alone would take the row, then the index
    entry, the opposite order, and MySQL would fail one of the two as a
    deadlock when they meet.
    """
    db.session.execute(
        update(Picture).where(Picture.sha512 == sha512).values(state=Picture.state),
        execution_options={"synchronize_session": False},
    )


def _commit_as_loaded() -> None:
    """Commit, keeping what the transaction loaded as it was committed.

    A caller answers with the record it got under the lock; reloading it
    afterwards (SQLAlchemy's expire on commit) could find it deleted by a
    request that took the lock the moment it was released.
    """
    session = db.session()
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring


def find_stored_by_file(file_sha256: str) -> str | None:
    """The pixel hash of the stored picture whose file has exactly these bytes.
    Every upload asks, so it is a Core statement built once: through the ORM,
    it cost an upload about 0.5 ms more CPU (in process)."""
    return db.session.connection().scalar(_STORED_BY_FILE, {"file_sha256": file_sha256})


def is_stored(sha512: str) -> bool:
    state = db.session.scalar(select(Picture.state).where(Picture.sha512 == sha512))
    db.session.commit()
    return state == STORED


def record_of(picture: Picture, owner: User | None) -> Image | None:
    """The owner's record of the picture (the ownerless one for None)."""
    owned = Image.owner_id.is_(None) if owner is None else Image.owner_id == owner.id
    return db.session.scalar(select(Image).where(Image.picture_id == picture.id, owned))


def claim_new(picture: Picture, state: str = STORING) -> Claim:
    """Add `picture` in `state`, claimed by the caller: inside `locked`, or
    in `try_claim_new`, where the unique sha512 stands in for the lock."""
    picture.state, picture.state_since = state, utcnow()
    picture.claim = secrets.token_hex(16)
    db.session.add(picture)
    db.session.flush()
    return Claim(picture.id, picture.sha512, picture.claim)


def try_claim_new(picture: Picture) -> Claim | None:
    """Add `picture` as `storing`, claimed by the caller, in a transaction of
    its own; None when the picture has a row already (look at it under
    `locked`). No lock is taken first: the unique sha512 decides, so that a
    new picture, the common case, costs one INSERT."""
    try:
        held = claim_new(picture)
        _commit_as_loaded()
    except IntegrityError:
        db.session.rollback()
        return None
    except BaseException:
        db.session.rollback()
        raise
    return held


def claim(picture: Picture, state: str) -> Claim:
    """Take the picture for a store or a delete (inside `locked`)."""
    picture.state, picture.state_since = state, utcnow()
    picture.claim = secrets.token_hex(16)
    return Claim(picture.id, picture.sha512, picture.claim)


def finish_store(held: Claim, record: Image) -> bool:
    """The files are in place: the picture is stored, with its first record.
    False when the claim was lost (its lease ran out and recovery took it)."""
    try:
        done = _set_state(held, STORED)
        if done:
            db.session.add(record)
        _commit_as_loaded()
    except BaseException:
        db.session.rollback()
        raise
    return done


def release(held: Claim, *, back_to: str | None) -> None:
    """Give a claim up: the row goes (a store that failed, a delete that is
    done, with its records) or returns to `back_to` (a delete that failed)."""
    try:
        if back_to is not None:
            _set_state(held, back_to)
        else:
            _lock(held.sha512)
            if _holds(held):
                db.session.execute(delete(Image).where(Image.picture_id == held.picture_id))
                db.session.execute(
                    delete(Picture).where(
                        Picture.id == held.picture_id, Picture.claim == held.token
                    )
                )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def hand_to_recovery(held: Claim) -> None:
    """Give up a claim whose files cannot be cleaned up now (the store is
    down): the row stays, its lease already run out, so that the next request
    for the picture, or recovery, finishes the clean-up at once instead of
    waiting out the lease."""
    try:
        db.session.execute(
            update(Picture)
            .where(Picture.id == held.picture_id, Picture.claim == held.token)
            .values(state_since=utcnow() - lease() - timedelta(seconds=1)),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def other_records(picture: Picture, image_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Image)
        .where(Image.picture_id == picture.id, Image.id != image_id)
    )


def stale_claims() -> list[str]:
    """Pictures whose store or delete has outlived its lease."""
    shas = db.session.scalars(
        select(Picture.sha512).where(
            Picture.state != STORED, Picture.state_since < utcnow() - lease()
        )
    ).all()
    db.session.commit()
    return list(shas)


def _holds(held: Claim) -> bool:
    return (
        db.session.scalar(
            select(Picture.id).where(Picture.id == held.picture_id, Picture.claim == held.token)
        )
        is not None
    )


def _set_state(held: Claim, state: str) -> bool:
    """Move the claimed row to `state`, giving the claim back; False when the
    claim was lost. A Core UPDATE: the ORM's took a tenth of an upload's CPU
    (`bench/cpu_per_request.py`). The row, if loaded, says so too, as commits keep
    what was loaded."""
    values = {"state": state, "state_since": utcnow(), "claim": None}
    changed = (
        db.session.connection()
        .execute(_SET_STATE, {"picture_id": held.picture_id, "token": held.token, **values})
        .rowcount
    )
    loaded = db.session.identity_map.get(identity_key(Picture, held.picture_id))
    if changed and loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)
    return bool(changed)
