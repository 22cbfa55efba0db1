"""EXIF, read with Pillow, the way a photographer reads it.

`read_exif(image)` gives the promoted fields (date taken, camera, lens,
exposure, GPS as signed decimal degrees...) and the whole EXIF as a JSON-safe
dict of tag names. Broken or missing EXIF gives empty results, never an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from PIL import ExifTags, Image, TiffImagePlugin
from PIL.ExifTags import GPS
from PIL.ExifTags import Base as Tag

# Binary values longer than this (maker notes, embedded previews) are dropped;
# shorter ones are shown as hex.
MAX_HEX_BYTES = 64
ORIENTATIONS = range(1, 9)
OFFSET_PATTERN = re.compile(r"([+-])(\d{2}):(\d{2})")
SECTIONS = {
    ExifTags.IFD.Exif: ("Exif", ExifTags.TAGS),
    ExifTags.IFD.GPSInfo: ("GPS", ExifTags.GPSTAGS),
    ExifTags.IFD.Interop: ("Interop", ExifTags.TAGS),
}
USER_COMMENT_CODES = {b"ASCII\0\0\0": "ascii", b"UNICODE\0": "utf-16", b"\0" * 8: "utf-8"}


@dataclass
class ExifData:
    """What the details endpoint shows; each promoted field is also a column."""

    taken_at: datetime | None = None  # local time as the camera recorded it
    taken_at_offset: int | None = None  # minutes east of UTC, when recorded
    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    orientation: int | None = None
    exposure_time: float | None = None
    f_number: float | None = None
    iso: int | None = None
    focal_length: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)


PROMOTED = tuple(f.name for f in fields(ExifData) if f.name != "tags")


def read_exif(image: Image.Image) -> ExifData:
    try:
        exif = image.getexif()
        sections = {"IFD0": dict(exif)}
        for ifd, (name, _) in SECTIONS.items():
            sections[name] = dict(exif.get_ifd(ifd))
    except Exception:  # noqa: BLE001 - broken EXIF is no EXIF, never a failed upload
        return ExifData()
    base, camera, gps = sections["IFD0"], sections["Exif"], sections["GPS"]
    taken_at, offset = _taken_at(camera)
    latitude, longitude = (
        _coordinate(gps, GPS.GPSLatitude, GPS.GPSLatitudeRef, "S"),
        _coordinate(gps, GPS.GPSLongitude, GPS.GPSLongitudeRef, "W"),
    )
    return ExifData(
        taken_at=taken_at,
        taken_at_offset=offset,
        camera_make=_text(base.get(Tag.Make), 64),
        camera_model=_text(base.get(Tag.Model), 64),
        lens=_text(camera.get(Tag.LensModel), 128),
        orientation=_orientation(base.get(Tag.Orientation)),
        exposure_time=_number(camera.get(Tag.ExposureTime)),
        f_number=_number(camera.get(Tag.FNumber)),
        iso=_iso(camera.get(Tag.ISOSpeedRatings)),
        focal_length=_number(camera.get(Tag.FocalLength)),
        latitude=latitude,
        longitude=longitude if latitude is not None else None,
        altitude=_altitude(gps) if latitude is not None else None,
        tags=_json_sections(sections),
    )


def read_orientation(image: Image.Image) -> int | None:
    """EXIF orientation (1-8), or None when there is none or it is broken."""
    try:
        return _orientation(image.getexif().get(Tag.Orientation))
    except Exception:  # noqa: BLE001 - broken EXIF is no EXIF
        return None


def _orientation(value: Any) -> int | None:
    orientation = _number(value, int)
    return orientation if orientation in ORIENTATIONS else None


def _taken_at(camera: dict) -> tuple[datetime | None, int | None]:
    recorded = str(camera.get(Tag.DateTimeOriginal)).strip("\0 ")
    try:
        taken_at = datetime.strptime(recorded, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, None
    subsec = str(camera.get(Tag.SubsecTimeOriginal, "")).strip("\0 ")
    if subsec.isdigit():
        taken_at = taken_at.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    match = OFFSET_PATTERN.fullmatch(str(camera.get(Tag.OffsetTimeOriginal, "")).strip("\0 "))
    if match is None:
        return taken_at, None
    sign, hours, minutes = match.groups()
    offset = int(hours) * 60 + int(minutes)
    if offset > 14 * 60:
        return taken_at, None
    return taken_at, -offset if sign == "-" else offset


def _coordinate(gps: dict, value_tag: int, ref_tag: int, negative_ref: str) -> float | None:
    """(degrees, minutes, seconds) and a N/S or E/W reference -> signed degrees."""
    value = gps.get(value_tag)
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    parts = [_number(part) for part in value]
    if any(part is None for part in parts):
        return None
    degrees, minutes, seconds = parts
    decimal = degrees + minutes / 60 + seconds / 3600
    return -decimal if str(gps.get(ref_tag, "")).strip("\0 ").upper() == negative_ref else decimal


def _altitude(gps: dict) -> float | None:
    altitude = _number(gps.get(GPS.GPSAltitude))
    if altitude is None:
        return None
    reference = gps.get(GPS.GPSAltitudeRef, 0)
    below_sea_level = reference in (1, b"\x01") or reference == "1"
    return -altitude if below_sea_level else altitude


def _iso(value: Any) -> int | None:
    """ISOSpeedRatings may hold several values; then the first positive one counts."""
    if isinstance(value, tuple):
        return next((number for v in value if (number := _number(v, int))), None)
    return _number(value, int)


def _number(value: Any, kind: type = float) -> Any:
    if isinstance(value, TiffImagePlugin.IFDRational | int | float) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number):
            return kind(number)
    return None


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.replace("\0", "").strip()
    return text[:limit] or None


def _json_sections(sections: dict[str, dict]) -> dict[str, dict[str, Any]]:
    names = {"IFD0": ExifTags.TAGS, **dict(SECTIONS.values())}
    result = {}
    for section, tags in sections.items():
        values = {}
        for tag, value in tags.items():
            if tag in SECTIONS:  # a pointer to a sub-IFD, shown as its own section
                continue
            converted = _user_comment(value) if tag == Tag.UserComment else _json_value(value)
            if converted is not None:
                values[names[section].get(tag, f"0x{tag:04X}")] = converted
        if values:
            result[section] = values
    return result


def _json_value(value: Any) -> Any:
    """A value JSON can hold: rationals as numbers, short bytes as hex, no NaN."""
    if isinstance(value, str):
        return value.replace("\0", "").strip() or None
    if isinstance(value, bytes):
        return value.hex() if len(value) <= MAX_HEX_BYTES else None
    if isinstance(value, tuple | list):
        items = [_json_value(item) for item in value]
        return items if any(item is not None for item in items) else None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    return _number(value)


def _user_comment(value: Any) -> Any:
    """UserComment starts with an 8-byte character code, then the text."""
    if isinstance(value, bytes) and len(value) >= 8 and value[:8] in USER_COMMENT_CODES:
        text = value[8:].decode(USER_COMMENT_CODES[value[:8]], "replace")
        return text.replace("\0", "").strip() or None
    return _json_value(value)


def utc_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def as_iso(taken_at: datetime, offset: int | None) -> str:
    """ISO 8601: with the offset when the camera recorded one, else local time."""
    if offset is None:
        return taken_at.isoformat()
    return taken_at.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()
