"""This node's scratch space: uploads are received into temp files here
(under INSTANCE_PATH), never in the shared store, and gone when the request ends."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .blobstore.local import storage_error

COPY_CHUNK = 1024 * 1024


@dataclass
class Received:
    """A file received in full: where it is, its size and the SHA-256 of its bytes."""

    path: Path
    size: int
    sha256: str


class Scratch:
    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).absolute()

    @contextlib.contextmanager
    def receive(self, stream: BinaryIO) -> Iterator[Received]:
        """Copy `stream` into a temp file, hashing it on the way; removed on exit.

        Raises StorageWriteError when this node's disk cannot take it.
        """
        path = self.folder / f"{secrets.token_hex(16)}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                with open(path, "xb") as file:
                    while chunk := stream.read(COPY_CHUNK):
                        digest.update(chunk)
                        file.write(chunk)
                        size += len(chunk)
            except OSError as error:
                raise storage_error(error, "receive the file") from error
            yield Received(path, size, digest.hexdigest())
        finally:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)

    def remove_leftovers(self, older_than: float) -> int:
        """Remove temp files a crash left behind, older than `older_than` seconds."""
        removed = 0
        cutoff = time.time() - older_than
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.folder):
                if entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                    with contextlib.suppress(OSError):
                        Path(entry.path).unlink()
                        removed += 1
        return removed
