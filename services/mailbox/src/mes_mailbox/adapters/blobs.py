"""Attachment bytes, content-addressed on disk: ``<root>/<sha[:2]>/<sha256>``.

Bytes are received into a temporary file beside their final place, hashed on the way,
fsynced, then linked into place and the directory fsynced. Only after that does the row that
names them commit, so no row ever names bytes a crash could lose. Identical content is stored
once.

Bytes nothing names any more are removed (a deleted document's), which could race with a new
row naming the same content: the writer keeps its temporary file until its row has committed
and then :meth:`settle` puts the bytes back if they went meanwhile; the remover first moves
them aside (:meth:`retire`), looks for a row naming them once more, and puts them back
(:meth:`restore`) if one appeared. Blocking file I/O: callers run these methods in a worker
thread.
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
        """Put the bytes in their place, durably (known content is there already). The
        temporary file stays until :meth:`settle`, after the row naming the bytes commits."""
        target = self.path_for(pending.sha256)
        directory = target.parent
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(pending.temp_path, target)
        _fsync_dir(directory)
        if created:
            _fsync_dir(self.root)
        return target

    def settle(self, pending: PendingBlob) -> None:
        """After the row naming the bytes committed (or failed): they are in place (back in
        place, if a remover took them meanwhile), and the temporary file goes."""
        target = self.path_for(pending.sha256)
        if not target.exists() and pending.temp_path.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.link(pending.temp_path, target)
            _fsync_dir(target.parent)
        pending.temp_path.unlink(missing_ok=True)

    def discard(self, pending: PendingBlob) -> None:
        pending.temp_path.unlink(missing_ok=True)

    def retire(self, sha256: str) -> Path | None:
        """Move bytes no row names aside, before the last look for one; None if already gone."""
        self._incoming.mkdir(parents=True, exist_ok=True)
        aside = self._incoming / f"retired-{sha256}-{os.urandom(6).hex()}"
        try:
            os.rename(self.path_for(sha256), aside)
        except FileNotFoundError:
            return None
        return aside

    def restore(self, aside: Path, sha256: str) -> None:
        """Put retired bytes back: a row names them after all."""
        target = self.path_for(sha256)
        os.replace(aside, target)
        _fsync_dir(target.parent)

    def purge(self, aside: Path) -> None:
        aside.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)
