"""Local blob store: files under one root, written atomically, named by the server.

Keys are relative paths made by the service (`originals/ab/cd/<sha512>.jpg`);
nothing a client sends ever becomes part of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

KEY_PATTERN = re.compile(r"[a-z0-9]+(/[a-z0-9][a-z0-9._-]*)+")
TEMP_DIR = "tmp"
LOCK_DIR = "locks"
PENDING = ".pending"
COPY_CHUNK = 1024 * 1024


class StorageError(Exception):
    """The store could not write: disk full, read-only, permissions."""


class TempFile:
    """A file being written under the store's temp folder, not yet visible."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO = open(path, "xb")  # noqa: SIM115 - closed by `discard`/`commit`
        self.size = 0

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as error:
            raise StorageError(f"cannot write to storage: {error.strerror}") from error
        self.size += len(data)

    def copy_from(self, stream: BinaryIO) -> None:
        while chunk := stream.read(COPY_CHUNK):
            self.write(chunk)
        try:
            self.file.flush()
        except OSError as error:
            raise StorageError(f"cannot write to storage: {error.strerror}") from error

    def discard(self) -> None:
        with contextlib.suppress(OSError):  # closing flushes, which fails on a full disk
            self.file.close()
        self.path.unlink(missing_ok=True)


class LocalStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        # Absolute: Flask's send_file would take a relative path as relative
        # to the package, not to the working directory.
        self.root = Path(root).absolute()

    def init(self) -> None:
        for folder in (TEMP_DIR, LOCK_DIR):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not KEY_PATTERN.fullmatch(key) or ".." in key:
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    @contextlib.contextmanager
    def temp_file(self) -> Iterator[TempFile]:
        """A temp file in the store; removed on exit unless `commit` moved it."""
        path = self.root / TEMP_DIR / f"{secrets.token_hex(16)}.part"
        try:
            temp = TempFile(path)
        except OSError as error:
            raise StorageError(f"cannot create a file in storage: {error.strerror}") from error
        try:
            yield temp
        finally:
            temp.discard()

    def commit(self, temp: TempFile, key: str) -> None:
        """Make `temp` durable and visible under `key` in one atomic step.

        On StorageError nothing new is left under `key`.
        """
        target = self.path(key)
        try:
            temp.file.flush()
            os.fsync(temp.file.fileno())
            temp.file.close()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp.path, target)
        except OSError as error:
            raise StorageError(f"cannot write to storage: {error.strerror}") from error
        try:
            _fsync_dir(target.parent)
        except OSError as error:
            target.unlink(missing_ok=True)
            raise StorageError(f"cannot write to storage: {error.strerror}") from error

    def put(self, key: str, data: bytes) -> None:
        with self.temp_file() as temp:
            temp.write(data)
            self.commit(temp, key)

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def delete(self, key: str) -> None:
        """Remove `key`; a key that is already gone is not an error."""
        self.path(key).unlink(missing_ok=True)

    def keys(self, folder: str) -> Iterator[str]:
        """Every file's key under `folder`, e.g. `keys("originals")`."""
        for path in sorted((self.root / folder).rglob("*")):
            if path.is_file():
                yield path.relative_to(self.root).as_posix()

    def temp_files(self) -> list[Path]:
        """Files being received now, or left behind by a crash."""
        return sorted((self.root / TEMP_DIR).glob("*.part"))

    @contextlib.contextmanager
    def pending(self, name: str) -> Iterator[None]:
        """Mark `name` as being stored until the block ends.

        A crash inside the block leaves the mark, and recovery (see
        maintenance.py) then knows which files may lack their database row.
        """
        marker = self.root / TEMP_DIR / f"{name}{PENDING}"
        try:
            marker.touch()
        except OSError as error:
            raise StorageError(f"cannot write to storage: {error.strerror}") from error
        try:
            yield
        finally:
            marker.unlink(missing_ok=True)

    def pending_names(self) -> list[str]:
        return sorted(
            path.name.removesuffix(PENDING) for path in (self.root / TEMP_DIR).glob(f"*{PENDING}")
        )

    def is_pending(self, name: str) -> bool:
        return (self.root / TEMP_DIR / f"{name}{PENDING}").exists()

    def clear_pending(self, name: str) -> None:
        (self.root / TEMP_DIR / f"{name}{PENDING}").unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every file in `prefix`'s folder whose name starts like it."""
        folder, _, start = prefix.rpartition("/")
        for path in self.path(folder).glob(f"{glob.escape(start)}*"):
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold an exclusive, cross-process lock for `name` (one of 256 stripes).

        Ingest takes it around "is this picture stored? if not, store it" so that
        two processes never write or clean up the same content-addressed key at once.
        """
        stripe = self.root / LOCK_DIR / f"{name[:2]}.lock"
        with open(stripe, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def check(self) -> dict[str, int]:
        """Prove the store is writable; report free space. Raises StorageError."""
        probe = self.root / TEMP_DIR / f"health-{secrets.token_hex(8)}.part"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
            usage = shutil.disk_usage(self.root)
        except OSError as error:
            raise StorageError(f"storage is not writable: {error.strerror}") from error
        return {"free_bytes": usage.free, "total_bytes": usage.total}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
