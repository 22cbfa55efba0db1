"""Database models (SQLAlchemy 2, typed). The schema itself lives in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, Dialect, MetaData, String, TypeDecorator
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .imaging import file_extension, mime_type

# Constraint names that are the same on every database, so that one set of
# migrations drives SQLite and MySQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MYSQL = ("mysql", "mariadb")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored naive in UTC; microseconds kept on MySQL too."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect):
        if dialect.name in MYSQL:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# Hex digests compare byte for byte: an ascii binary collation on MySQL.
HexDigest = String(128).with_variant(
    mysql.VARCHAR(128, charset="ascii", collation="ascii_bin"), *MYSQL
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Image(db.Model):
    """One stored picture. Its original file lives in storage under `storage_key`."""

    __tablename__ = "images"
    # Ids are never reused, so a link to a deleted image never shows another one.
    __table_args__: ClassVar = {"mysql_charset": "utf8mb4", "sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-512 over mode, size and decoded pixels: the dedupe key.
    sha512: Mapped[str] = mapped_column(HexDigest, unique=True)
    # The client's file name, cleaned; metadata only, never part of a path.
    original_name: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int]
    height: Mapped[int]
    file_size: Mapped[int] = mapped_column(BigInteger)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def mime_type(self) -> str:
        return mime_type(self.format)

    @property
    def storage_key(self) -> str:
        return original_key(self.sha512, self.format)

    @property
    def download_name(self) -> str:
        return self.original_name or f"image-{self.id}.{file_extension(self.format)}"


def original_key(sha512: str, image_format: str) -> str:
    """Server-made, content-addressed storage key of an original file."""
    return f"originals/{sha512[:2]}/{sha512[2:4]}/{sha512}.{file_extension(image_format)}"
