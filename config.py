"""Settings of image-repo, each read from the environment (the README lists them all).

`create_app()` builds a `Config` from `os.environ`; tests pass their own mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE_DIR = BASE_DIR / "instance"

DEFAULT_ALLOWED_FORMATS = "JPEG,PNG,GIF,WEBP,TIFF,BMP,AVIF"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value == "":
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def normalise_database_url(url: str) -> str:
    """Use PyMySQL and utf8mb4 for MySQL/MariaDB URLs, whatever the URL says.

    `mysql://` alone would pick the MySQLdb driver, which is not installed, and a
    server whose default charset is latin1 would mangle non-ASCII file names.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        if parsed.get_driver_name() != "pymysql":
            parsed = parsed.set(drivername=f"{parsed.get_backend_name()}+pymysql")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed.render_as_string(hide_password=False)


def engine_options(url: str) -> dict:
    """Stale pooled connections are replaced (pre-ping), and an unreachable
    MySQL fails a request in seconds rather than hanging it."""
    options: dict = {"pool_pre_ping": True, "pool_recycle": 3600}
    if make_url(url).get_backend_name() in ("mysql", "mariadb"):
        options["connect_args"] = {"connect_timeout": 5}
    return options


class Config:
    """Production defaults: SQLite and local storage under `instance/`."""

    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        instance_dir = Path(env.get("INSTANCE_PATH") or DEFAULT_INSTANCE_DIR)
        self.INSTANCE_PATH = str(instance_dir)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'image_repo.sqlite3'}"
        )
        self.FILE_STORAGE_LOCATION = env.get("FILE_STORAGE_LOCATION") or str(
            instance_dir / "storage"
        )
        # Whole request body, in bytes (werkzeug answers 413 past it).
        self.MAX_CONTENT_LENGTH = _int(env, "MAX_CONTENT_LENGTH", 64 * 1024 * 1024)
        # Decoded pixels per image (all frames together); past it: 413.
        self.MAX_IMAGE_PIXELS = _int(env, "MAX_IMAGE_PIXELS", 89_478_485)
        # Files in one upload request.
        self.MAX_UPLOAD_FILES = _int(env, "MAX_UPLOAD_FILES", 32)
        self.ALLOWED_FORMATS = [
            name.strip().upper()
            for name in (env.get("ALLOWED_FORMATS") or DEFAULT_ALLOWED_FORMATS).split(",")
            if name.strip()
        ]
        # Reads (download, list, details...) without a token.
        self.PUBLIC_READ = _bool(env, "PUBLIC_READ", True)
        # Uploads (and deletes of ownerless images) without a token: for a
        # private, single-user install only.
        self.ALLOW_ANONYMOUS_UPLOAD = _bool(env, "ALLOW_ANONYMOUS_UPLOAD", False)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.MIGRATIONS_DIRECTORY = str(BASE_DIR / "migrations")
