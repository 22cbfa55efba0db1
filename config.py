"""Settings of image-repo, each read from the environment (the README lists them all).

`create_app()` builds a `Config` from `os.environ`; tests pass their own mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_INSTANCE_DIR = BASE_DIR / "instance"

DEFAULT_ALLOWED_FORMATS = "JPEG,PNG,GIF,WEBP,TIFF,BMP,AVIF,HEIF"
FILE_OFFLOAD_MODES = ("", "x-sendfile", "x-accel-redirect", "redirect")
S3_ADDRESSING_STYLES = ("auto", "path", "virtual")
LOG_FORMATS = ("text", "json")

N = TypeVar("N", int, float)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float)


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N]) -> N:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {what}, got {value!r}") from None


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
    MySQL fails a request in seconds rather than hanging it.

    MySQL reads at READ COMMITTED: its default, REPEATABLE READ, would let a
    check made under a lock ("is this picture stored yet?") see the snapshot
    its transaction began with instead of what was committed meanwhile.
    (SQLite's reads outside a write transaction always see the latest data.)
    """
    options: dict = {"pool_recycle": 3600}
    if make_url(url).get_backend_name() != "sqlite":  # a file does not go stale
        options["pool_pre_ping"] = True
    if make_url(url).get_backend_name() in ("mysql", "mariadb"):
        options["connect_args"] = {"connect_timeout": 5}
        options["isolation_level"] = "READ COMMITTED"
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
        # Pixels one upload request may have decoded, all its files together
        # (bytes already stored cost none); past it, the rest of its files: 413.
        self.MAX_REQUEST_PIXELS = _int(env, "MAX_REQUEST_PIXELS", 4 * 89_478_485)
        # Uploaded files per user (per address, for anonymous uploads), in the
        # `limits` notation; counted where GENERATION_RATE_LIMIT is.
        self.UPLOAD_RATE_LIMIT = env.get("UPLOAD_RATE_LIMIT") or "600/minute"
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
        # Live (not revoked, not expired) API tokens one user may hold.
        self.MAX_TOKENS_PER_USER = _int(env, "MAX_TOKENS_PER_USER", 100)
        self.MIGRATIONS_DIRECTORY = str(BASE_DIR / "migrations")
        # Who sends the bytes of files: "" this app; behind a proxy that sends
        # files itself, headers only: "x-sendfile" (Apache, lighttpd) or
        # "x-accel-redirect" (nginx, which finds the file under X_ACCEL_PREFIX);
        # "redirect": a 302 to a presigned URL of the object store (S3 only).
        self.FILE_OFFLOAD = (env.get("FILE_OFFLOAD") or "").strip().lower()
        if self.FILE_OFFLOAD not in FILE_OFFLOAD_MODES:
            raise ValueError(
                f"FILE_OFFLOAD must be one of x-sendfile, x-accel-redirect, redirect or "
                f"empty, got {self.FILE_OFFLOAD!r}"
            )
        if self.FILE_OFFLOAD == "x-sendfile" and self.FILE_STORAGE_LOCATION.startswith("s3://"):
            raise ValueError(
                "FILE_OFFLOAD=x-sendfile names files on this machine; a bucket has none. "
                "Use redirect (or x-accel-redirect with an nginx location that reaches the bucket)"
            )
        # Seconds a presigned URL of FILE_OFFLOAD=redirect stays valid.
        self.LINK_EXPIRES = _int(env, "LINK_EXPIRES", 300)
        # An S3 bucket (FILE_STORAGE_LOCATION=s3://bucket/prefix): seconds to
        # connect and to wait for an answer, and attempts per call (retries
        # with backoff), so that a store that is down fails requests in seconds.
        # Credentials, region and endpoint come from the AWS_* variables.
        self.S3_CONNECT_TIMEOUT = _float(env, "S3_CONNECT_TIMEOUT", 2.0)
        self.S3_READ_TIMEOUT = _float(env, "S3_READ_TIMEOUT", 5.0)
        self.S3_MAX_ATTEMPTS = _int(env, "S3_MAX_ATTEMPTS", 3)
        # "path" for MinIO and most endpoints other than AWS's; "auto" lets boto3 choose.
        self.S3_ADDRESSING_STYLE = (env.get("S3_ADDRESSING_STYLE") or "auto").strip().lower()
        if self.S3_ADDRESSING_STYLE not in S3_ADDRESSING_STYLES:
            raise ValueError(
                "S3_ADDRESSING_STYLE must be auto, path or virtual, "
                f"got {self.S3_ADDRESSING_STYLE!r}"
            )
        # Seconds a store or delete of one picture may take before others take
        # it for dead, and seconds a request waits for another's store of the
        # same picture before answering 503.
        self.STORE_LEASE = _float(env, "STORE_LEASE", 300.0)
        self.STORE_WAIT = _float(env, "STORE_WAIT", 30.0)
        # /health runs its checks at most once per this many seconds per process.
        self.HEALTH_CHECK_INTERVAL = _float(env, "HEALTH_CHECK_INTERVAL", 1.0)
        # Refuse to start when the database and the store belong to different
        # repositories (see repository.py).
        self.CHECK_REPOSITORY = _bool(env, "CHECK_REPOSITORY", True)
        self.X_ACCEL_PREFIX = "/" + (env.get("X_ACCEL_PREFIX") or "/_stored/").strip("/") + "/"
        self._generation(env)
        self._operations(env)

    def _generation(self, env: Mapping[str, str]) -> None:
        """Image generation: backends, job runner, waiting and rate limits."""
        # A secret: only ever from the environment.
        self.GEMINI_API_KEY = env.get("GEMINI_API_KEY") or env.get("GOOGLE_API_KEY") or None
        self.GEMINI_MODEL = env.get("GEMINI_MODEL") or "gemini-2.5-flash-image"
        # Another endpoint (a proxy, a test server); None is Google's own.
        self.GEMINI_BASE_URL = env.get("GEMINI_BASE_URL") or None
        # Seconds one call may take, and attempts in all for 429 and 5xx answers
        # (with exponential backoff from GEMINI_RETRY_DELAY seconds).
        self.GEMINI_TIMEOUT = _float(env, "GEMINI_TIMEOUT", 120.0)
        self.GEMINI_ATTEMPTS = _int(env, "GEMINI_ATTEMPTS", 4)
        self.GEMINI_RETRY_DELAY = _float(env, "GEMINI_RETRY_DELAY", 1.0)
        # The backend used when a request names none: Gemini once a key is set.
        self.GENERATION_BACKEND = env.get("GENERATION_BACKEND") or (
            "gemini" if self.GEMINI_API_KEY else "local"
        )
        # Jobs go to Celery workers when a broker is set, else to a thread pool
        # of GENERATION_THREADS threads in each web process.
        self.CELERY_BROKER_URL = env.get("CELERY_BROKER_URL") or None
        self.CELERY_QUEUE = env.get("CELERY_QUEUE") or "image-repo"
        self.GENERATION_THREADS = _int(env, "GENERATION_THREADS", 2)
        # A queued or running job whose process has shown no sign of life for this
        # many seconds is failed as interrupted (its process died).
        self.JOB_STALE_AFTER = _float(env, "JOB_STALE_AFTER", 60.0)
        # How often `?wait=` checks the database for jobs that end in another process.
        self.JOB_POLL_INTERVAL = _float(env, "JOB_POLL_INTERVAL", 0.04)
        # Generate requests per user (Flask-Limiter syntax). The counts live in
        # RATELIMIT_STORAGE_URI: memory:// counts in each process, redis://... is
        # shared by all; the Celery broker's Redis is the default when there is one.
        self.GENERATION_RATE_LIMIT = env.get("GENERATION_RATE_LIMIT") or "10/minute"
        # Prefix of the counts' keys: deployments that share a Redis need their own.
        self.RATELIMIT_KEY_PREFIX = env.get("RATELIMIT_KEY_PREFIX") or "image-repo"
        broker = self.CELERY_BROKER_URL or ""
        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI") or (
            broker if broker.startswith(("redis://", "rediss://")) else "memory://"
        )

    def _operations(self, env: Mapping[str, str]) -> None:
        """Metrics, logs and webhooks."""
        # GET /metrics in the Prometheus text format; with METRICS_TOKEN set it
        # answers only `Authorization: Bearer <METRICS_TOKEN>` (a secret).
        self.METRICS_ENABLED = _bool(env, "METRICS_ENABLED", True)
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        # "text" (one readable line per event) or "json" (one JSON object per line).
        self.LOG_FORMAT = (env.get("LOG_FORMAT") or "text").strip().lower()
        if self.LOG_FORMAT not in LOG_FORMATS:
            raise ValueError(f"LOG_FORMAT must be text or json, got {self.LOG_FORMAT!r}")
        self.LOG_LEVEL = (env.get("LOG_LEVEL") or "INFO").strip().upper()
        # Standard Webhooks: every URL gets every event, signed with the secret.
        self.WEBHOOK_URLS = [
            url.strip() for url in (env.get("WEBHOOK_URLS") or "").split(",") if url.strip()
        ]
        # A secret: only ever from the environment (checked by image_repo.webhooks).
        self.WEBHOOK_SECRET = env.get("WEBHOOK_SECRET") or None
        # Seconds one attempt may take; retries with exponential backoff from
        # WEBHOOK_RETRY_DELAY seconds, until WEBHOOK_RETRY_FOR seconds have passed.
        self.WEBHOOK_TIMEOUT = _float(env, "WEBHOOK_TIMEOUT", 10.0)
        self.WEBHOOK_RETRY_DELAY = _float(env, "WEBHOOK_RETRY_DELAY", 5.0)
        self.WEBHOOK_RETRY_FOR = _float(env, "WEBHOOK_RETRY_FOR", 3600.0)
        # Deliveries in flight at once per process (without Celery).
        self.WEBHOOK_THREADS = _int(env, "WEBHOOK_THREADS", 4)
