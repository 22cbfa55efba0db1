"""`flask images fsck`: do the database and the store agree?

Every problem names the image ids it concerns. Stores and deletes in
progress are not problems, and whatever looks wrong is looked at again at the
end, against the database and the store as they are then: fsck running beside
uploads and deletes reports nothing false. `--repair` never deletes an
original: a stray is moved into `lost+found/` in the store, with the reason
beside it, and `flask images restore` brings it back as an upload.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import imaging, pictures
from .blobstore import NotStored, Storage
from .ingest import IngestResult, ingest
from .maintenance import Finding, images_subject, recover, resolve
from .models import Image, Picture, User, db
from .pictures import DELETING, STORED
from .stores import current_scratch, current_storage

QUARANTINE = "lost+found"
EXTENSION_FORMATS = {imaging.file_extension(name): name for name in imaging.FORMATS}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    pictures: int = 0
    images: int = 0
    objects: int = 0
    in_progress: int = 0
    quarantined: list[str] = field(default_factory=list)

    @property
    def unrepaired(self) -> int:
        return sum(not finding.repaired for finding in self.findings)


@dataclass(frozen=True)
class Suspect:
    """A stored picture that looked wrong: `kind` and `detail` as found."""

    sha512: str
    key: str
    kind: str
    detail: str


def fsck(
    *, repair: bool, verify_hashes: bool = True, advance: Callable[[int], None] = lambda _n: None
) -> Report:
    """Check the store against the database; with `repair`, fix what is safe.

    `advance(n)` is called as pictures and stored objects are checked (progress).
    """
    storage = current_storage()
    report = Report()
    records = _records_by_picture()
    rows = list(db.session.scalars(select(Picture)))
    db.session.commit()
    known = {picture.sha512 for picture in rows}
    originals = {obj.key: obj.size for obj in storage.list("originals/")}
    report.pictures, report.images = len(rows), sum(map(len, records.values()))

    suspects: list[Suspect] = []
    for picture in rows:
        if picture.state == STORED:
            suspects += _check_original(storage, picture, originals, verify_hashes)
        elif pictures.is_stale(picture):
            report.findings.append(_stale_claim(picture, records[picture.id], repair))
        else:
            report.in_progress += 1
        advance(1)
    stray_originals = [key for key in originals if _sha(key) not in known]
    stray_thumbnails = []
    for obj in storage.list("thumbnails/"):
        report.objects += 1
        if _sha(obj.key) not in known:
            stray_thumbnails.append(obj.key)
        advance(1)
    report.objects += len(originals)

    report.findings += _still_wrong(storage, suspects)
    for key in _still_strays(stray_originals):
        report.findings.append(_stray_original(storage, key, repair, report))
    for key in _still_strays(stray_thumbnails):
        report.findings.append(_stray_thumbnail(storage, key, repair))
    if repair:
        report.findings += [f for f in recover() if f.kind == "leftover-temp"]
    return report


def _records_by_picture() -> dict[int, list[int]]:
    records: dict[int, list[int]] = defaultdict(list)
    for image_id, picture_id in db.session.execute(select(Image.id, Image.picture_id)):
        records[picture_id].append(image_id)
    return records


def _check_original(
    storage: Storage, picture: Picture, originals: dict[str, int], verify_hashes: bool
) -> list[Suspect]:
    key = picture.storage_key
    size = originals.get(key)
    if size is None:
        return [Suspect(picture.sha512, key, "missing-original", f"{key} is gone")]
    found = []
    if size != picture.file_size:
        detail = f"{size} bytes; the record says {picture.file_size}"
        found.append(Suspect(picture.sha512, key, "size-mismatch", detail))
    if verify_hashes and (actual := _pixel_hash(storage, key)) != picture.sha512:
        detail = f"its pixels hash to {actual[:16]}..."
        found.append(Suspect(picture.sha512, key, "hash-mismatch", detail))
    return found


def _still_wrong(storage: Storage, suspects: list[Suspect]) -> list[Finding]:
    """Suspects whose picture is still stored now, named by its records now.
    A picture deleted while fsck looked at it is not missing its file."""
    if not suspects:
        return []
    stored = {
        picture.sha512: picture
        for picture in db.session.scalars(
            select(Picture).where(
                Picture.sha512.in_({s.sha512 for s in suspects}), Picture.state == STORED
            )
        )
    }
    records = _records_by_picture()
    db.session.commit()
    findings = []
    for suspect in suspects:
        picture = stored.get(suspect.sha512)
        if picture is None:
            continue
        if suspect.kind == "missing-original" and storage.stat(suspect.key) is not None:
            continue
        findings.append(Finding(suspect.kind, images_subject(records[picture.id]), suspect.detail))
    return findings


def _stale_claim(picture: Picture, image_ids: list[int], repair: bool) -> Finding:
    if repair and (resolved := resolve(picture.sha512)) is not None:
        return resolved
    kind = "interrupted-delete" if picture.state == DELETING else "interrupted-store"
    subject = images_subject(image_ids) if image_ids else f"picture {picture.id}"
    return Finding(kind, subject, "its process died; --repair finishes or undoes it")


def _still_strays(keys: list[str]) -> list[str]:
    """Keys whose picture has no row even now (a store may have begun meanwhile)."""
    if not keys:
        return []
    known = set(db.session.scalars(select(Picture.sha512)))
    db.session.commit()
    return [key for key in keys if _sha(key) not in known]


def _stray_original(storage: Storage, key: str, repair: bool, report: Report) -> Finding:
    if not repair:
        return Finding("orphan-original", "no image", f"{key}: no picture refers to it")
    target = quarantine(storage, key, "no picture in the database refers to this original")
    if target is None:
        return Finding("orphan-original", "no image", f"{key}: a picture claimed it meanwhile")
    report.quarantined.append(target)
    return Finding("orphan-original", "no image", f"{key}: moved to {target}", repaired=True)


def _stray_thumbnail(storage: Storage, key: str, repair: bool) -> Finding:
    """A thumbnail can always be made again from its original: a stray one goes."""
    if repair:
        storage.delete(key)
        return Finding("orphan-thumbnail", "no image", f"{key}: removed", repaired=True)
    return Finding("orphan-thumbnail", "no image", f"{key}: no picture refers to it")


def quarantine(storage: Storage, key: str, reason: str) -> str | None:
    """Move the stray original `key` into lost+found/, with a note of why and
    when; None when a picture claimed it meanwhile (then it is no stray).

    The copy comes first, then a `deleting` claim on the picture's hash, which
    keeps uploads of the same picture waiting, then the removal: whatever
    happens, the bytes are kept somewhere.
    """
    now = datetime.now(UTC)
    target = f"{QUARANTINE}/{now:%Y%m%dt%H%M%Sz}/{key}"
    storage.copy(key, target)
    note = {"reason": reason, "from": key, "at": now.isoformat()}
    storage.put(f"{target}.json", json.dumps(note, indent=2).encode())
    sha512, _, extension = key.rpartition("/")[2].partition(".")
    stray = Picture(
        sha512=sha512,
        format=EXTENSION_FORMATS.get(extension, "JPEG"),
        width=0,
        height=0,
        file_size=0,
    )
    try:
        with pictures.locked(sha512) as existing:
            held = None if existing is not None else pictures.claim_new(stray, DELETING)
    except IntegrityError:
        held = None
    if held is None:
        storage.delete_many([target, f"{target}.json"])
        return None
    storage.delete(key)
    pictures.release(held, back_to=None)
    return target


def restore(key: str, *, owner: User | None) -> IngestResult:
    """Store the quarantined original `key` again, as an upload by `owner`,
    then remove it (and its note) from the quarantine."""
    if not key.startswith(f"{QUARANTINE}/") or key.endswith(".json"):
        raise ValueError(f"not a quarantined original under {QUARANTINE}/")
    storage = current_storage()
    with storage.open(key) as stream:
        result = ingest(stream, None, owner=owner)
    storage.delete_many([key, f"{key}.json"])
    return result


def restore_hint(report: Report) -> str:
    where = report.quarantined[0] if len(report.quarantined) == 1 else f"{QUARANTINE}/<...>"
    return f"flask --app image_repo images restore {where} [--owner NAME]"


def _sha(key: str) -> str:
    """The picture hash in an original's or a thumbnail's key."""
    name = key.rpartition("/")[2]
    return name.partition(".")[0].partition("-")[0]


def _pixel_hash(storage: Storage, key: str) -> str:
    try:
        with storage.open(key) as stream, current_scratch().receive(stream) as copy:  # noqa: SIM117
            with imaging.decode(
                copy.path,
                allowed_formats=list(imaging.FORMATS),
                max_pixels=current_app.config["MAX_IMAGE_PIXELS"],
            ) as picture:
                return picture.sha512
    except NotStored:
        return "nothing: the file is gone"
    except imaging.ImageRejected as error:
        return f"nothing: {error}"
