"""Deleting a record: the picture's files go with its last record.

A record that shares its picture with others is removed in one transaction
and touches no file. The last record's delete marks the picture `deleting`,
removes the files (thumbnails first, the original last), then removes record
and row. If the original cannot be removed, the delete is undone and the
caller told to try again: nothing is half-deleted.
"""

from __future__ import annotations

import time

from flask import current_app

from . import events, pictures, serving
from .blobstore import StorageError
from .maintenance import wait_for_picture
from .models import Image, User, db
from .permissions import ensure_may_change
from .pictures import DELETING, STORED
from .serving import ImageNotFound
from .stores import current_storage, remove_files


def delete_image(image_id: int, user: User | None) -> None:
    """Delete the record `image_id` for `user`.

    Raises ImageNotFound, NotPermitted, StorageError (nothing was deleted),
    PictureBusy, and SQLAlchemy's errors when the database fails.
    """
    image = serving.get_record(image_id)
    ensure_may_change(user, image.owner_id, "image", "delete it")
    picture = image.picture
    sha512, original_key = picture.sha512, picture.storage_key
    deadline = time.monotonic() + current_app.config["STORE_WAIT"]
    while True:
        held, stale, shared = None, False, False
        with pictures.locked(sha512) as current:
            record = db.session.get(Image, image_id, populate_existing=True)
            if current is None or record is None:
                raise ImageNotFound(image_id)
            if current.state == DELETING:
                stale = pictures.is_stale(current)
            elif pictures.other_records(current, image_id):
                db.session.delete(record)
                shared = True
            else:
                held = pictures.claim(current, DELETING)
        if shared:
            events.image_deleted(image_id, sha512)
            return
        if held is not None:
            break
        wait_for_picture(sha512, stale, deadline)
    try:
        remove_files(current_storage(), sha512, original_key)
    except StorageError:
        pictures.release(held, back_to=STORED)
        raise
    pictures.release(held, back_to=None)
    events.image_deleted(image_id, sha512)
