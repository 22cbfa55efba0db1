"""The app's blob store and this node's scratch space, and a picture's files in the store."""

from __future__ import annotations

from flask import current_app

from . import thumbnails
from .blobstore import Storage
from .scratch import Scratch


def current_storage() -> Storage:
    return current_app.extensions["image_repo.storage"]


def current_scratch() -> Scratch:
    return current_app.extensions["image_repo.scratch"]


def remove_files(storage: Storage, sha512: str, original_key: str) -> None:
    """Every thumbnail of a picture, then its original (files already gone are fine).

    The original goes last: while it is there, the picture is whole.
    """
    storage.delete_many(obj.key for obj in storage.list(thumbnails.family(sha512)))
    storage.delete(original_key)
