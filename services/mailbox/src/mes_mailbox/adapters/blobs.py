"""Attachment bytes, content-addressed on disk: ``<root>/<sha[:2]>/<sha256>``.

Bytes are received into a temporary file beside their final place, hashed on the way,
fsynced, then renamed and the directory fsynced. Only after that does the attachment row
commit, so no row ever names bytes a crash could lose. Identical content is stored once.
Blocking file I/O: callers run these methods in a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from ..service.ports import ChunkSink, PendingBlob

__all__ = ["BlobStore"]

CHUNK_BYTES = 1024 * 1024


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._incoming = root / "incoming"

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def receive(self, source: BinaryIO, inspector: ChunkSink) -> PendingBlob:
        """Copy ``source`` to a temporary file, showing each chunk to ``inspector`` (which may
        refuse by raising; the temporary file is then removed)."""
        self._incoming.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._incoming, prefix="up-")
        temp = Path(name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK_BYTES):
                    inspector.feed(chunk)
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return PendingBlob(temp, digest.hexdigest(), size)

    def commit(self, pending: PendingBlob) -> Path:
        """Put the bytes in their place, durably; a second copy of known content is dropped."""
        target = self.path_for(pending.sha256)
        directory = target.parent
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        if target.exists():
            pending.temp_path.unlink(missing_ok=True)
        else:
            os.replace(pending.temp_path, target)
        _fsync_dir(directory)
        if created:
            _fsync_dir(self.root)
        return target

    def discard(self, pending: PendingBlob) -> None:
        pending.temp_path.unlink(missing_ok=True)

    def remove(self, sha256: str) -> None:
        """Drop bytes nothing references any more (the caller checked); gone already is fine."""
        self.path_for(sha256).unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)
