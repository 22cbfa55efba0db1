"""Objects in an S3 bucket (AWS S3, MinIO, Ceph RGW, R2, B2...) through boto3.

FILE_STORAGE_LOCATION is `s3://bucket/prefix`; keys keep their layout under
the prefix. Credentials, region and endpoint come from boto3's usual chain
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
AWS_ENDPOINT_URL, ~/.aws, instance roles), never from here. Every call has
connect and read timeouts and a bounded number of attempts, so that a store
that is down fails a request within seconds; botocore's errors become this
package's.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from urllib3.exceptions import HTTPError as Urllib3Error

from .base import (
    Link,
    NotStored,
    Storage,
    StorageUnavailable,
    StorageWriteError,
    StoredObject,
    check_key,
)

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Files up to this size go up in one PUT; bigger ones in parts, several at once.
MULTIPART_THRESHOLD = 32 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
# S3 deletes at most this many objects per request.
DELETE_BATCH = 1000
# The longest a presigned URL may be valid (SigV4's limit: a week).
MAX_LINK_SECONDS = 7 * 24 * 3600
# A reader skips forward this far by reading on; further, it asks for a new range.
SKIP_BY_READING = 256 * 1024
READ_BUFFER = 256 * 1024
# A link is handed out again while this share of its life is left.
LINK_REUSE_SHARE = 0.5
MAX_REMEMBERED_LINKS = 10_000
# Where check() writes its probes: a hidden name, as no key the service makes has.
PROBE_PREFIX = ".probes/"
# Error codes that mean the store is there but refuses this write.
REFUSED_WRITES = {
    "AccessDenied",
    "AllAccessDisabled",
    "EntityTooLarge",
    "QuotaExceeded",
    "XMinioStorageFull",
    "XMinioAdminBucketQuotaExceeded",
    "InsufficientStorage",
}
NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class S3Settings:
    """How long to wait for the store, and how often to try (config.py's S3_*)."""

    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_attempts: int = 3
    addressing_style: str = "auto"
    link_expires: int = 300

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> S3Settings:
        defaults = cls()
        return cls(
            connect_timeout=config.get("S3_CONNECT_TIMEOUT", defaults.connect_timeout),
            read_timeout=config.get("S3_READ_TIMEOUT", defaults.read_timeout),
            max_attempts=config.get("S3_MAX_ATTEMPTS", defaults.max_attempts),
            addressing_style=config.get("S3_ADDRESSING_STYLE", defaults.addressing_style),
            link_expires=config.get("LINK_EXPIRES", defaults.link_expires),
        )


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", settings: S3Settings | None = None) -> None:
        if not BUCKET_NAME.fullmatch(bucket):
            raise ValueError(f"not an S3 bucket name: {bucket!r}")
        prefix = prefix.strip("/")
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.location = f"s3://{bucket}/{self.prefix}"
        self.settings = settings or S3Settings()
        if not 1 <= self.settings.link_expires <= MAX_LINK_SECONDS:
            raise ValueError(f"LINK_EXPIRES must be between 1 and {MAX_LINK_SECONDS} seconds")
        self._clients: dict[int, Any] = {}
        self._links: dict[tuple[str, str, str], Link] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, settings: S3Settings | None = None) -> S3Storage:
        """`s3://bucket` or `s3://bucket/some/prefix`."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"FILE_STORAGE_LOCATION must look like s3://bucket/prefix, got {url}")
        return cls(parts.netloc, parts.path, settings)

    @property
    def client(self) -> Any:
        """This process's client: a forked process (a Celery pool process, a
        server worker) must not share its parent's connections."""
        pid = os.getpid()
        client = self._clients.get(pid)
        if client is None:
            with self._lock:
                client = self._clients.get(pid)
                if client is None:
                    client = self._clients[pid] = self._make_client()
        return client

    def _make_client(self) -> Any:
        settings = self.settings
        config = Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
            max_pool_connections=32,
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
        )
        try:
            return boto3.session.Session().client("s3", config=config)
        except (BotoCoreError, ValueError) as error:  # ValueError: an endpoint that is no URL
            raise StorageUnavailable(f"cannot set up the S3 client: {error}") from None

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put_file(self, key: str, source: Path) -> None:
        target = self._key(key)
        with _errors("write to storage", writing=True):
            if source.stat().st_size <= MULTIPART_THRESHOLD:
                with open(source, "rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=target, Body=body)
            else:
                transfer = TransferConfig(
                    multipart_threshold=MULTIPART_THRESHOLD,
                    multipart_chunksize=MULTIPART_CHUNK,
                    max_concurrency=4,
                )
                self.client.upload_file(str(source), self.bucket, target, Config=transfer)

    def put(self, key: str, data: bytes) -> None:
        target = self._key(key)
        with _errors("write to storage", writing=True):
            self.client.put_object(Bucket=self.bucket, Key=target, Body=data)

    def open(self, key: str) -> BinaryIO:
        full_key = self._key(key)
        with _errors("read from storage", missing=key):
            answer = self.client.get_object(Bucket=self.bucket, Key=full_key)
        reader = _ObjectReader(self, full_key, answer["ContentLength"], answer["Body"])
        return io.BufferedReader(reader, READ_BUFFER)  # type: ignore[return-value]

    def _get_from(self, full_key: str, start: int) -> Any:
        """The object's body from byte `start` on."""
        with _errors("read from storage", missing=full_key):
            return self.client.get_object(
                Bucket=self.bucket, Key=full_key, Range=f"bytes={start}-"
            )["Body"]

    def stat(self, key: str) -> StoredObject | None:
        full_key = self._key(key)
        try:
            with _errors("read from storage", missing=key):
                head = self.client.head_object(Bucket=self.bucket, Key=full_key)
        except NotStored:
            return None
        return StoredObject(key, head["ContentLength"], head["LastModified"].astimezone(UTC))

    def delete(self, key: str) -> None:
        with _errors("delete from storage", writing=True):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(self._key(key))
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, full_keys: list[str]) -> None:
        with _errors("delete from storage", writing=True):
            answer = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in full_keys], "Quiet": True},
            )
        failed = answer.get("Errors") or []
        if failed:
            code = failed[0].get("Code", "an error")
            error = StorageWriteError if code in REFUSED_WRITES else StorageUnavailable
            raise error(f"cannot delete {len(failed)} object(s) from storage: {code}")

    def list(self, prefix: str) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        with _errors("list the storage"):
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self.prefix) :]
                    yield StoredObject(key, item["Size"], item["LastModified"].astimezone(UTC))

    def copy(self, source: str, target: str) -> None:
        with _errors("copy within storage", writing=True, missing=source):
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self._key(target),
                CopySource={"Bucket": self.bucket, "Key": self._key(source)},
            )

    def check(self) -> str:
        probe = f"{self.prefix}{PROBE_PREFIX}{secrets.token_hex(8)}"
        content = secrets.token_bytes(16)
        with _errors("write to storage", writing=True):
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=content)
        try:
            with _errors("read from storage"):
                answer = self.client.get_object(Bucket=self.bucket, Key=probe)
                if answer["Body"].read() != content:
                    raise StorageUnavailable("the storage did not read back what it wrote")
        finally:
            with _errors("delete from storage", writing=True):
                self.client.delete_object(Bucket=self.bucket, Key=probe)
        return f"bucket {self.bucket} takes writes"

    def link(self, key: str, *, mime_type: str, content_disposition: str | None) -> Link:
        """A presigned GET, valid for LINK_EXPIRES seconds; the bucket answers
        it with this Content-Type and Content-Disposition.

        The same link is handed out again while at least half its life is
        left, so that a CDN in front of the bucket sees one URL, not one per
        request; a link with less left is never handed out.
        """
        disposition = content_disposition or "inline"
        expires = self.settings.link_expires
        remembered = (key, mime_type, disposition)
        found = self._links.get(remembered)
        if found is not None and found.expires_at - datetime.now(UTC) >= timedelta(
            seconds=expires * LINK_REUSE_SHARE
        ):
            return found
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "ResponseContentType": mime_type,
            "ResponseContentDisposition": disposition,
        }
        # The signature's time is whole seconds, taken after this: the link
        # lasts at least until `expires_at`.
        signed_at = datetime.now(UTC).replace(microsecond=0)
        with _errors("sign a link"):
            url = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        link = Link(url, signed_at + timedelta(seconds=expires))
        with self._lock:
            if len(self._links) >= MAX_REMEMBERED_LINKS:
                self._links.clear()
            self._links[remembered] = link
        return link

    def remove_partial_writes(self, older_than: float) -> int:
        """Abort multipart uploads begun more than `older_than` seconds ago
        (a process died in the middle); their parts are billed until then."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        paginator = self.client.get_paginator("list_multipart_uploads")
        aborted = 0
        with _errors("clean up the storage", writing=True):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"] < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        return aborted


class _ObjectReader(io.RawIOBase):
    """A seekable stream over one object: reads continue one GET's body, and a
    read after a seek elsewhere asks for the bytes from there on (a ranged
    GET). Knowing the size from the first answer, a seek to the end costs nothing."""

    def __init__(self, storage: S3Storage, full_key: str, size: int, body: Any) -> None:
        self._storage = storage
        self._key = full_key
        self._size = size
        self._position = 0
        self._body: Any = body
        self._body_position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        with _errors("read from storage"):
            body = self._body_at(self._position)
            data = body.read(wanted)
        if not data:
            raise StorageUnavailable("cannot read from storage: the object ended early")
        buffer[: len(data)] = data
        self._position += len(data)
        self._body_position += len(data)
        return len(data)

    def _body_at(self, position: int) -> Any:
        """A body whose next byte is at `position`: the current one, read on
        for a short skip forward, or a new ranged GET."""
        if self._body is not None:
            skip = position - self._body_position
            if 0 <= skip <= SKIP_BY_READING:
                while skip:
                    skipped = len(self._body.read(skip))
                    if not skipped:
                        break
                    skip -= skipped
                    self._body_position += skipped
                if self._body_position == position:
                    return self._body
            self._body.close()
        self._body = self._storage._get_from(self._key, position)
        self._body_position = position
        return self._body

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
        super().close()


@contextmanager
def _errors(doing: str, *, writing: bool = False, missing: str | None = None) -> Iterator[None]:
    """Turns botocore's and urllib3's errors into this package's, with a
    reason (an S3 error code, or what the connection did) and nothing else:
    no endpoint, key or credential. `missing`: the key a 404 means is not stored."""
    try:
        try:
            yield
        except S3UploadFailedError as failed:  # upload_file's wrapper of what S3 said
            raise failed.__context__ or failed from None
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "unknown"))
        if missing is not None and code in NOT_FOUND:
            raise NotStored(missing) from None
        if code == "NoSuchBucket":
            raise StorageUnavailable(f"cannot {doing}: the bucket does not exist") from None
        if writing and code in REFUSED_WRITES:
            raise StorageWriteError(f"cannot {doing}: {code}") from None
        raise StorageUnavailable(f"cannot {doing}: {code}") from None
    except NoCredentialsError:
        raise StorageUnavailable(f"cannot {doing}: no AWS credentials found") from None
    except (BotoCoreError, Urllib3Error, OSError, S3UploadFailedError) as error:
        raise StorageUnavailable(f"cannot {doing}: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    """What the connection did, by the error's kind (its message names the endpoint)."""
    name = type(error).__name__
    if "Timeout" in name:
        return f"the object store did not answer in time ({name})"
    return f"the object store is unreachable ({name})"
