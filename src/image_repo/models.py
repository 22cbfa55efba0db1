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
    UniqueConstraint,
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
# How long an SQLite connection waits for another's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


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


class OriginalFile:
    """What a picture's `sha512` and `format` say of its stored original."""

    sha512: str
    format: str

    @property
    def mime_type(self) -> str:
        return mime_type(self.format)

    @property
    def storage_key(self) -> str:
        return original_key(self.sha512, self.format)


class Picture(OriginalFile, db.Model):
    """Content, stored once: the decoded pixels' SHA-512 (the dedupe key), the
    stored file, its thumbnails, format, size and EXIF.

    Its `state` coordinates every process on every node, through the database:
    `storing` while its files are being written (no record may point to it
    yet), `stored`, and `deleting` while its last record's delete removes the
    files. `claim` is the token of the process doing a store or a delete, and
    `state_since` starts its lease: a claim older than STORE_LEASE seconds
    belongs to a process that died, and recovery finishes or undoes its work.
    """

    __tablename__ = "pictures"
    __table_args__ = (
        Index("ix_pictures_hash_band_0", "hash_band_0", "perceptual_hash"),
        Index("ix_pictures_hash_band_1", "hash_band_1", "perceptual_hash"),
        Index("ix_pictures_hash_band_2", "hash_band_2", "perceptual_hash"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-512 over mode, size and decoded pixels: the dedupe key.
    sha512: Mapped[str] = mapped_column(hex_digest(128), unique=True)
    # SHA-256 of the stored file's bytes: the same bytes again need no decode.
    # None for pictures stored before it was kept (`flask images backfill`).
    file_sha256: Mapped[str | None] = mapped_column(hex_digest(64), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(hex_digest(32))
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int]
    height: Mapped[int]
    frame_count: Mapped[int] = mapped_column(default=1)
    has_alpha: Mapped[bool] = mapped_column(default=False)
    file_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Promoted from EXIF (see exif.py).
    taken_at: Mapped[datetime | None] = mapped_column(LocalDateTime)
    taken_at_offset: Mapped[int | None] = mapped_column(SmallInteger)  # minutes east of UTC
    camera_make: Mapped[str | None] = mapped_column(CaselessString)
    camera_model: Mapped[str | None] = mapped_column(CaselessString)
    lens: Mapped[str | None] = mapped_column(String(128))
    orientation: Mapped[int | None] = mapped_column(SmallInteger)
    exposure_time: Mapped[float | None] = mapped_column(Double)
    f_number: Mapped[float | None] = mapped_column(Double)
    iso: Mapped[int | None]
    focal_length: Mapped[float | None] = mapped_column(Double)
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
    altitude: Mapped[float | None] = mapped_column(Double)
    exif_json: Mapped[str | None] = mapped_column(LongText)
    # The perceptual hash (perceptual.py) as a signed 64-bit integer, and its
    # bands, each indexed with the hash: how near-duplicates are found
    # (similarity.py). None until computed (`flask images backfill`).
    perceptual_hash: Mapped[int | None] = mapped_column(BigInteger)
    hash_band_0: Mapped[int | None]
    hash_band_1: Mapped[int | None]
    hash_band_2: Mapped[int | None]


# The picture's facts that lists filter and sort on. Each record carries a copy
# (a picture never changes), so that every filter and sort, with or without an
# owner, is served by one index on `images`.
LISTED_FACTS = (
    "format",
    "width",
    "height",
    "file_size",
    "taken_at",
    "camera_make",
    "camera_model",
    "latitude",
)


class Image(db.Model):
    """One owner's record of a picture: the id in every URL, the owner, the
    name it was uploaded under, when, and how it came in.

    An owner has at most one record of a picture (ownerless records: one,
    kept so by the picture's lock). Deleting a record deletes only it; the
    picture goes with its last record.
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
        UniqueConstraint("picture_id", "owner_id", name="uq_images_picture_id_owner_id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    picture_id: Mapped[int] = mapped_column(ForeignKey("pictures.id"))
    # Who uploaded it; None for anonymous uploads (ALLOW_ANONYMOUS_UPLOAD).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The client's file name, cleaned; metadata only, never part of a path.
    original_name: Mapped[str | None] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "upload" or "generated": how this record came in.
    source: Mapped[str] = mapped_column(
        String(16), default="upload", server_default="upload", index=True
    )
    # Copies of the picture's LISTED_FACTS.
    format: Mapped[str] = mapped_column(String(16), index=True)
    width: Mapped[int] = mapped_column(index=True)
    height: Mapped[int] = mapped_column(index=True)
    file_size: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[datetime | None] = mapped_column(LocalDateTime)
    camera_make: Mapped[str | None] = mapped_column(CaselessString, index=True)
    camera_model: Mapped[str | None] = mapped_column(CaselessString, index=True)
    latitude: Mapped[float | None] = mapped_column(Double, index=True)

    picture: Mapped[Picture] = relationship(lazy="joined", innerjoin=True)
    owner: Mapped[User | None] = relationship(lazy="joined")

    @classmethod
    def of(cls, picture: Picture, **fields) -> Image:
        """A new record of `picture`, with its own copies of the listed facts."""
        copies = {name: getattr(picture, name) for name in LISTED_FACTS}
        return cls(picture=picture, picture_id=picture.id, **copies, **fields)

    @property
    def owner_name(self) -> str | None:
        return self.owner.name if self.owner else None

    @property
    def sha512(self) -> str:
        return self.picture.sha512

    @property
    def mime_type(self) -> str:
        return mime_type(self.format)


class Repository(db.Model):
    """This repository's identity; its store carries the same (see repository.py)."""

    __tablename__ = "repository"
    __table_args__: ClassVar = {"mysql_charset": "utf8mb4"}

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    uid: Mapped[str] = mapped_column(hex_digest(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written by the write probe of /health.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
