"""Database models (SQLAlchemy 2, typed). The schema itself lives in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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
MAX_PROMPT_LENGTH = 2000


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


def hex_digest(length: int) -> String:
    """A hex digest column: compared byte for byte (ascii binary collation on MySQL)."""
    return String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), *MYSQL
    )


# Local wall-clock time (when a photo was taken), microseconds kept on MySQL.
LocalDateTime = DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL)
# Matched without regard to case on every database (MySQL's default collation
# already ignores case; SQLite needs NOCASE).
CaselessString = String(64).with_variant(String(64, collation="NOCASE"), "sqlite")
# The whole EXIF as JSON; MySQL's TEXT stops at 64 KiB.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL)


def utcnow() -> datetime:
    return datetime.now(UTC)


# The largest value an Integer column holds (MySQL's INT): an id or a pixel
# count past it cannot be in the database, and is never sent to it.
MAX_INTEGER = 2**31 - 1

# Ids are never reused (AUTOINCREMENT on SQLite; InnoDB does not reuse them
# either), so a link to a deleted row never shows another one.
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "sqlite_autoincrement": True}


class User(db.Model):
    """Someone who uploads and owns images; admins may delete anyone's."""

    __tablename__ = "users"
    __table_args__: ClassVar = TABLE_OPTIONS

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(db.Model):
    """An API token. Only its SHA-256 is kept; the secret is shown once, at creation."""

    __tablename__ = "api_tokens"
    __table_args__: ClassVar = TABLE_OPTIONS

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(hex_digest(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None: works until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens", lazy="joined")


class Image(db.Model):
    """One stored picture. Its original file lives in storage under `storage_key`.

    Every list filter and sort has a column here and an index (see the
    migrations); the full EXIF is kept as JSON for the details view only.
    """

    __tablename__ = "images"
    __table_args__ = (
        # Keyset pagination: each sort is (column, id); and the same per owner,
        # so that one user's pictures page as fast in any order however many
        # pictures others have.
        Index("ix_images_uploaded_at_id", "uploaded_at", "id"),
        Index("ix_images_taken_at_id", "taken_at", "id"),
        Index("ix_images_file_size_id", "file_size", "id"),
        Index("ix_images_owner_id_uploaded_at_id", "owner_id", "uploaded_at", "id"),
        Index("ix_images_owner_id_taken_at_id", "owner_id", "taken_at", "id"),
        Index("ix_images_owner_id_file_size_id", "owner_id", "file_size", "id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-512 over mode, size and decoded pixels: the dedupe key.
    sha512: Mapped[str] = mapped_column(hex_digest(128), unique=True)
    # The client's file name, cleaned; metadata only, never part of a path.
    original_name: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16), index=True)
    width: Mapped[int] = mapped_column(index=True)
    height: Mapped[int] = mapped_column(index=True)
    frame_count: Mapped[int] = mapped_column(default=1)
    has_alpha: Mapped[bool] = mapped_column(default=False)
    file_size: Mapped[int] = mapped_column(BigInteger)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Promoted from EXIF (see exif.py).
    taken_at: Mapped[datetime | None] = mapped_column(LocalDateTime)
    taken_at_offset: Mapped[int | None] = mapped_column(SmallInteger)  # minutes east of UTC
    camera_make: Mapped[str | None] = mapped_column(CaselessString, index=True)
    camera_model: Mapped[str | None] = mapped_column(CaselessString, index=True)
    lens: Mapped[str | None] = mapped_column(String(128))
    orientation: Mapped[int | None] = mapped_column(SmallInteger)
    exposure_time: Mapped[float | None] = mapped_column(Double)
    f_number: Mapped[float | None] = mapped_column(Double)
    iso: Mapped[int | None]
    focal_length: Mapped[float | None] = mapped_column(Double)
    latitude: Mapped[float | None] = mapped_column(Double, index=True)
    longitude: Mapped[float | None] = mapped_column(Double)
    altitude: Mapped[float | None] = mapped_column(Double)
    exif_json: Mapped[str | None] = mapped_column(LongText)
    # Who stored it first; None for anonymous uploads (ALLOW_ANONYMOUS_UPLOAD).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # "upload" or "generated"; how the picture first came in.
    source: Mapped[str] = mapped_column(
        String(16), default="upload", server_default="upload", index=True
    )

    owner: Mapped[User | None] = relationship(lazy="joined")

    @property
    def owner_name(self) -> str | None:
        return self.owner.name if self.owner else None

    @property
    def mime_type(self) -> str:
        return mime_type(self.format)

    @property
    def storage_key(self) -> str:
        return original_key(self.sha512, self.format)

    @property
    def download_name(self) -> str:
        return self.download_name_for(self.id, self.original_name, self.format)

    @staticmethod
    def download_name_for(image_id: int, original_name: str | None, image_format: str) -> str:
        return original_name or f"image-{image_id}.{file_extension(image_format)}"


class GenerationJob(db.Model):
    """A request to generate a picture, and what became of it: queued, running,
    succeeded (with the image it made or found) or failed (with why).

    It is also the picture's provenance: the prompt as typed, the prompt the
    backend was given, the style, backend and model.
    """

    __tablename__ = "generation_jobs"
    __table_args__: ClassVar = {"mysql_charset": "utf8mb4"}

    # A random UUID in hex: ids cannot be guessed or counted.
    id: Mapped[str] = mapped_column(hex_digest(32), primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    prompt: Mapped[str] = mapped_column(String(MAX_PROMPT_LENGTH))
    # The prompt after the style's template: what the backend was asked.
    final_prompt: Mapped[str] = mapped_column(Text)
    style: Mapped[str | None] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(100))
    aspect_ratio: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    # A named stage (queued, generating, storing, succeeded, failed) and its percentage.
    stage: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Refreshed while a process holds the job; a stale one means that process died.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(String(1000))
    image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL"), index=True
    )
    # True when the picture was already stored (the job found it, did not add it).
    duplicate: Mapped[bool | None]

    owner: Mapped[User | None] = relationship(lazy="joined")

    @property
    def owner_name(self) -> str | None:
        return self.owner.name if self.owner else None

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINISHED

    @property
    def error(self) -> dict[str, str | None] | None:
        if self.error_code is None:
            return None
        return {"code": self.error_code, "message": self.error_message}


JOB_FINISHED = ("succeeded", "failed")


def original_key(sha512: str, image_format: str) -> str:
    """Server-made, content-addressed storage key of an original file."""
    return f"{original_prefix(sha512)}{file_extension(image_format)}"


def original_prefix(sha512: str) -> str:
    return f"originals/{sha512[:2]}/{sha512[2:4]}/{sha512}."
