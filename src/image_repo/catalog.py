"""Listing images: filters on promoted, indexed columns and keyset pagination.

`name` and `prompt` are substrings, found through the index of textsearch.py.

A page is found by where the previous one ended, `(sort value, id)`, never by
an offset: page 1,000 costs what page 1 costs, and images that arrive while a
client pages through are neither skipped nor shown twice.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from . import textsearch
from .generation import provenance
from .models import MAX_INTEGER, Image, User, db


@dataclass(frozen=True)
class Sort:
    column: Any
    descending: bool
    nullable: bool = False


SORTS = {
    "-uploaded_at": Sort(Image.uploaded_at, descending=True),
    "uploaded_at": Sort(Image.uploaded_at, descending=False),
    "-taken_at": Sort(Image.taken_at, descending=True, nullable=True),
    "taken_at": Sort(Image.taken_at, descending=False, nullable=True),
    "-file_size": Sort(Image.file_size, descending=True),
    "file_size": Sort(Image.file_size, descending=False),
}
DEFAULT_SORT = "-uploaded_at"

# filter name -> the condition it puts on the query
FILTERS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "source": lambda value: Image.source == value,
    "owner": lambda name: (
        Image.owner_id == select(User.id).where(User.name == name.lower()).scalar_subquery()
    ),
    "format": lambda value: Image.format == value.upper(),
    "uploaded_after": lambda moment: Image.uploaded_at >= moment,
    "uploaded_before": lambda moment: Image.uploaded_at < moment,
    "taken_after": lambda moment: Image.taken_at >= moment,
    "taken_before": lambda moment: Image.taken_at < moment,
    "camera_make": lambda text: Image.camera_make == text,
    "camera_model": lambda text: Image.camera_model == text,
    "has_gps": lambda wanted: Image.latitude.is_not(None) if wanted else Image.latitude.is_(None),
    "min_width": lambda pixels: Image.width >= pixels,
    "max_width": lambda pixels: Image.width <= pixels,
    "min_height": lambda pixels: Image.height >= pixels,
    "max_height": lambda pixels: Image.height <= pixels,
}
# Substring filters: how best to find their rows depends on the page size too.
TEXT_FILTERS: dict[str, Callable[[str, int], ColumnElement[bool]]] = {
    "name": lambda text, page: textsearch.NAMES.search(text, page=page).holds(Image.id),
    "prompt": provenance.prompt_contains,
}


MAX_FILE_SIZE = 2**63 - 1


def _is_int(value: Any, largest: int) -> bool:
    """An int the database column can hold (JSON's booleans are not ints here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= largest


class InvalidCursor(ValueError):
    """A cursor this service did not make, or made for another sort order."""


@dataclass(frozen=True)
class Page:
    items: list[Image]
    next_cursor: str | None


def search(
    filters: dict[str, Any], *, sort: str = DEFAULT_SORT, limit: int, cursor: str | None = None
) -> Page:
    """One page of images matching every filter, in `sort` order.

    Images without a value for the sort column (no EXIF date) come last in
    either direction.
    """
    order = SORTS[sort]
    column, descending = order.column, order.descending
    conditions = [
        TEXT_FILTERS[name](value, limit) if name in TEXT_FILTERS else FILTERS[name](value)
        for name, value in filters.items()
    ]
    position = _decode(cursor, sort) if cursor else None
    base = select(Image).where(*conditions)

    rows: list[Image] = []
    if position is None or position[0] is not None:
        with_value = base.where(column.is_not(None)) if order.nullable else base
        if position is not None:
            with_value = with_value.where(_after(column, descending, *position))
        rows = _fetch(with_value, column, descending, limit + 1)
    if order.nullable and len(rows) <= limit:
        without_value = base.where(column.is_(None))
        if position is not None and position[0] is None:
            without_value = without_value.where(_after(Image.id, descending, position[1]))
        rows += _fetch(without_value, None, descending, limit + 1 - len(rows))

    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], _encode(sort, getattr(last, column.key), last.id))


def _after(column, descending: bool, value: Any, image_id: int | None = None) -> ColumnElement:
    """Rows strictly past `(value, image_id)` in the sort order.

    Spelt `column <= value AND (column < value OR id < image_id)` (descending)
    rather than as one OR: the first term lets the database seek straight to
    the position in the `(column, id)` index, where the OR alone would have it
    read the index from the start, so a deep page would cost as much as all
    the pages before it.
    """
    beyond = column < value if descending else column > value
    if image_id is None:
        return beyond
    up_to = column <= value if descending else column >= value
    tie = Image.id < image_id if descending else Image.id > image_id
    return and_(up_to, or_(beyond, tie))


def _fetch(query: Select, column, descending: bool, limit: int) -> list[Image]:
    keys = [column, Image.id] if column is not None else [Image.id]
    order = [key.desc() if descending else key.asc() for key in keys]
    return list(db.session.scalars(query.order_by(*order).limit(limit)))


def _encode(sort: str, value: Any, image_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    payload = json.dumps([sort, value, image_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        payload = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, image_id = json.loads(payload)
    except (binascii.Error, ValueError, TypeError, RecursionError) as error:
        raise InvalidCursor("not a cursor from this service") from error
    if cursor_sort != sort:
        raise InvalidCursor(f"this cursor belongs to sort={cursor_sort}, not sort={sort}")
    if not _is_int(image_id, MAX_INTEGER):
        raise InvalidCursor("not a cursor from this service")
    return _typed(SORTS[sort], value), image_id


def _typed(order: Sort, value: Any) -> Any:
    if value is None and order.nullable:
        return None
    column = order.column
    try:
        if column is Image.file_size:
            if _is_int(value, MAX_FILE_SIZE):
                return value
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if column is Image.uploaded_at:
                return moment.astimezone(UTC)
            if moment.tzinfo is None:
                return moment
    except (ValueError, OverflowError):  # OverflowError: outside the calendar in UTC
        pass
    raise InvalidCursor("not a cursor from this service")
