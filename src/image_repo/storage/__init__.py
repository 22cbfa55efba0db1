"""The blob store, chosen by FILE_STORAGE_LOCATION: a folder, or `s3://bucket/prefix`."""

from __future__ import annotations

from .base import (
    Link,
    NotStored,
    Storage,
    StorageError,
    StorageUnavailable,
    StorageWriteError,
    StoredObject,
)

__all__ = [
    "Link",
    "NotStored",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "StorageWriteError",
    "StoredObject",
    "open_storage",
]


def open_storage(location: str) -> Storage:
    """The backend for `location`. Opening writes nothing."""
    if location.startswith("s3://"):
        from .s3 import S3Storage

        return S3Storage.from_url(location)
    from .local import LocalStorage

    return LocalStorage(location)
