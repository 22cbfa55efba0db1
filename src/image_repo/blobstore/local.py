"""Objects as files under one folder, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from .base import NotStored, Storage, StorageUnavailable, StorageWriteError, StoredObject, check_key

# Where writes are prepared before they are renamed into place. Its name starts
# with a dot, which no key does, so it never shows among the objects.
PARTIAL_DIR = ".partial"
# What a store that does not take writes answers.
REFUSED_WRITES = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EFBIG,
    errno.ENOTDIR,  # a file where a folder should be
    errno.EEXIST,
}


def storage_error(error: OSError, doing: str) -> StorageUnavailable | StorageWriteError:
    """The OSError as this package's error, with its reason but not its path."""
    reason = error.strerror or type(error).__name__
    if error.errno in REFUSED_WRITES:
        return StorageWriteError(f"cannot {doing}: {reason}")
    return StorageUnavailable(f"cannot {doing}: {reason}")


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.location = str(self.root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_file(self, key: str, source: Path) -> None:
        target = self.path(key)
        with self._partial() as partial:
            try:
                _copy(source, partial)
                _fsync_file(partial)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)
                _fsync_dir(target.parent)
            except OSError as error:
                raise storage_error(error, "write to storage") from error

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        with self._partial() as partial:
            try:
                with open(partial, "xb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)
                _fsync_dir(target.parent)
            except OSError as error:
                raise storage_error(error, "write to storage") from error

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise NotStored(key) from None
        except OSError as error:
            raise storage_error(error, "read from storage") from error

    def stat(self, key: str) -> StoredObject | None:
        try:
            stat = self.path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise storage_error(error, "read from storage") from error
        return StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as error:
            raise storage_error(error, "delete from storage") from error

    def list(self, prefix: str) -> Iterator[StoredObject]:
        folder, _, start = prefix.rpartition("/")
        base = self.root / folder if folder else self.root
        try:
            yield from self._walk(base, folder, start)
        except OSError as error:
            raise storage_error(error, "list the storage") from error

    def _walk(self, folder: Path, key_folder: str, start: str) -> Iterator[StoredObject]:
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if not entry.name.startswith(start) or entry.name.startswith("."):
                continue
            key = f"{key_folder}/{entry.name}" if key_folder else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), key, "")
            elif entry.is_file(follow_symlinks=False):
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed since the folder was read
                yield StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def copy(self, source: str, target: str) -> None:
        if self.stat(source) is None:
            raise NotStored(source)
        self.put_file(target, self.path(source))

    def check(self) -> str:
        probe = f"health-{secrets.token_hex(8)}"
        with self._partial() as partial:
            try:
                partial.write_bytes(probe.encode())
                if partial.read_bytes() != probe.encode():
                    raise StorageUnavailable("the storage did not read back what it wrote")
                usage = shutil.disk_usage(self.root)
            except OSError as error:
                raise storage_error(error, "write to storage") from error
        return f"{usage.free // 2**20} MiB free"

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def remove_partial_writes(self, older_than: float) -> int:
        """Remove writes a crash cut short (their temp files) older than
        `older_than` seconds; returns how many."""
        removed = 0
        cutoff = time.time() - older_than
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root / PARTIAL_DIR):
                if entry.stat().st_mtime < cutoff:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    @contextlib.contextmanager
    def _partial(self) -> Iterator[Path]:
        """A fresh temp file name in the store; removed on exit if still there."""
        folder = self.root / PARTIAL_DIR
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise storage_error(error, "write to storage") from error
        partial = folder / f"{secrets.token_hex(16)}.part"
        try:
            yield partial
        finally:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)


def _copy(source: Path, target: Path) -> None:
    """A copy made by the kernel (copy_file_range/sendfile), not through Python."""
    shutil.copyfile(source, target)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
