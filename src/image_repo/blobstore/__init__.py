"""The blob store, chosen by FILE_STORAGE_LOCATION: a folder, or `s3://bucket/prefix`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def open_storage(location: str, config: Mapping[str, Any] | None = None) -> Storage:
    """The backend for `location`, with the app's settings for it (`config`:
    S3_* and LINK_EXPIRES for a bucket). Opening writes nothing."""
    if location.startswith("s3://"):
        from .s3 import S3Settings, S3Storage

        return S3Storage.from_url(location, S3Settings.from_config(config or {}))
    from .local import LocalStorage

    return LocalStorage(location)
