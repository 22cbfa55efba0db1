"""One store, one database: the repository's identity, kept in both.

The first time a database and a store meet, both get the same random id (the
`repository` row, and `repository.json` in the store). From then on a
server, worker or command whose database and store carry different ids, or
a database with pictures whose store carries none, refuses to start: two
databases sharing one store would delete each other's files.
"""

from __future__ import annotations

import json
import uuid

import click
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from .blobstore import NotStored, Storage
from .models import Picture, Repository, db

MARK_KEY = "repository.json"


class RepositoryMismatch(click.ClickException):
    """The database and the store belong to different repositories.

    A ClickException, so that a `flask` command stops with the message alone.
    """


def verify(storage: Storage) -> str:
    """Check that the database and the store belong together, giving both an
    identity if neither has one yet; returns the id. Writes nothing when
    they disagree."""
    row = db.session.get(Repository, 1)
    mark = _read_mark(storage)
    if row is None:
        if mark is not None:
            raise RepositoryMismatch(
                f"The storage at {storage.location} belongs to another repository "
                f"({mark}), and this database ({_describe()}) has none yet. Give this "
                "database its own FILE_STORAGE_LOCATION, or point DATABASE_URL at the "
                "database that repository belongs to."
            )
        # A new repository, or one from before identities: both get one now.
        row = _create()
        _write_mark(storage, row.uid)
        return row.uid
    if mark is None:
        pictures = db.session.scalar(select(func.count()).select_from(Picture))
        if pictures:
            raise RepositoryMismatch(
                f"This database ({_describe()}) is repository {row.uid} with {pictures} "
                f"pictures, but the storage at {storage.location} has no repository mark: it "
                "is not that repository's store. Point FILE_STORAGE_LOCATION at it."
            )
        _write_mark(storage, row.uid)
    elif mark != row.uid:
        raise RepositoryMismatch(
            f"The storage at {storage.location} belongs to another repository ({mark}) "
            f"than this database ({_describe()}, repository {row.uid}). Point "
            "FILE_STORAGE_LOCATION and DATABASE_URL at one repository's store and database."
        )
    db.session.commit()
    return row.uid


def is_set_up() -> bool:
    """Whether the migrations have made the tables yet (`flask db upgrade`)."""
    return inspect(db.engine).has_table(Repository.__tablename__)


def _create() -> Repository:
    row = Repository(id=1, uid=uuid.uuid4().hex)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # another process made it first
        db.session.rollback()
        row = db.session.get(Repository, 1)
    return row


def _write_mark(storage: Storage, uid: str) -> None:
    storage.put(MARK_KEY, json.dumps({"repository": uid}).encode())


def _read_mark(storage: Storage) -> str | None:
    try:
        return json.loads(storage.read(MARK_KEY))["repository"]
    except NotStored:
        return None
    except (ValueError, KeyError, TypeError):
        raise RepositoryMismatch(
            f"The storage at {storage.location} has an unreadable {MARK_KEY}."
        ) from None


def _describe() -> str:
    return db.engine.url.render_as_string(hide_password=True)
