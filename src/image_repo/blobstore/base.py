"""What every blob store offers: objects under keys the service makes.

Keys look like `originals/ab/cd/<sha512>.jpg`; nothing a client sends ever
becomes part of one. A backend (local.py, s3.py) maps them to files or bucket
objects; nothing outside this package handles a path or a bucket key.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

# Lower-case segments of letters, digits, '.', '_', '+' and '-', the first
# segment a top-level folder (`originals`, `thumbnails`, `lost+found`...).
KEY_PATTERN = re.compile(r"[a-z0-9+_-]+(/[a-z0-9][a-z0-9._+-]*)+|[a-z0-9][a-z0-9._-]*\.json")


class StorageError(Exception):
    """The store failed; the message says how, without paths or credentials."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or read now (503): down, timing out, refusing."""


class StorageWriteError(StorageError):
    """The store is reachable but does not take writes (507): full, read-only."""


class NotStored(LookupError):
    """No object under that key."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # aware, UTC


@dataclass(frozen=True)
class Link:
    """Where a client can fetch an object directly, and until when."""

    url: str
    expires_at: datetime


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key) or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(ABC):
    """A blob store. Writes are atomic: a reader sees no object, or the whole
    one. Every method raises StorageUnavailable or StorageWriteError when the
    store fails, never the backend's own exceptions."""

    #: Where the objects live, for messages: a folder, or `s3://bucket/prefix`.
    location: str

    @abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Store the bytes of the file at `source` under `key`, durably."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, durably."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A seekable binary stream over the object (close it after use).

        Raises NotStored when there is no object under `key`.
        """

    def read(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    @abstractmethod
    def stat(self, key: str) -> StoredObject | None:
        """The object's size and time, or None when there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; one that is already gone is not an error."""

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    @abstractmethod
    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with `prefix`, in key order."""

    def copy(self, source: str, target: str) -> None:
        """Store the object under `source` under `target` too."""
        self.put(target, self.read(source))

    @abstractmethod
    def check(self) -> str:
        """Prove that the store takes a write and reads it back now.

        Returns a short description (free space, bucket); raises
        StorageUnavailable or StorageWriteError.
        """

    def link(self, key: str, *, mime_type: str, content_disposition: str | None) -> Link | None:
        """A short-lived URL that serves the object with this type and
        Content-Disposition, or None when the backend cannot make one (then the
        app sends the bytes)."""
        return None

    def remove_partial_writes(self, older_than: float) -> int:
        """Clean up writes that a crash cut short (temp files, unfinished
        multipart uploads) begun more than `older_than` seconds ago; returns
        how many. Finished objects are never touched."""
        return 0

    def local_path(self, key: str) -> Path | None:
        """The object's file, for a web server in front that sends files itself
        (X-Sendfile, X-Accel-Redirect); None for stores that are not files."""
        return None
