"""Attachment rules: which files a message may carry, decided by their content, not their name.

The allowed types are those the patient space accepts (DOMAIN.md, public sources): pdf,
jpg/jpeg, png, tiff, txt, rtf, doc. A file is typed by its first bytes (magic numbers); the
name's extension must then agree, so a PNG named ``ordonnance.pdf`` is refused rather than
shown to a pharmacist as something it is not. The signature of a .doc is that of every OLE2
compound file (.xls, .ppt, .msi installers…): such a file is a .doc only if it holds a Word
document stream.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import BinaryIO

import olefile

from mes_contracts.events.parties import AttachmentRef

from .errors import (
    AttachmentEmpty,
    AttachmentTooLarge,
    AttachmentTypeMismatch,
    AttachmentTypeNotAllowed,
)

__all__ = [
    "MAX_FILENAME_LENGTH",
    "AttachmentType",
    "ContentSniffer",
    "StoredAttachment",
    "check_extension",
    "detect_magic",
    "holds_a_word_document",
    "sanitize_filename",
    "type_not_allowed",
]

MAX_FILENAME_LENGTH = 255
# Enough for the longest signature (OLE2, 8 bytes) with room to spare.
MAGIC_BYTES = 16


@dataclass(frozen=True)
class _Type:
    content_type: str
    extensions: frozenset[str]


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment whose bytes are stored: who uploaded it, and what it is."""

    id: str
    sha256: str
    size: int
    content_type: str
    filename: str
    uploaded_by: str
    created_at: datetime

    @property
    def ref(self) -> AttachmentRef:
        return AttachmentRef(
            id=self.id,
            filename=self.filename,
            content_type=self.content_type,
            size=self.size,
            sha256=self.sha256,
        )


class AttachmentType(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"
    RTF = "rtf"
    DOC = "doc"
    TXT = "txt"

    @property
    def content_type(self) -> str:
        return _TYPES[self].content_type

    @property
    def extensions(self) -> frozenset[str]:
        return _TYPES[self].extensions


_TYPES: dict[AttachmentType, _Type] = {
    AttachmentType.PDF: _Type("application/pdf", frozenset({"pdf"})),
    AttachmentType.JPEG: _Type("image/jpeg", frozenset({"jpg", "jpeg"})),
    AttachmentType.PNG: _Type("image/png", frozenset({"png"})),
    AttachmentType.TIFF: _Type("image/tiff", frozenset({"tif", "tiff"})),
    AttachmentType.RTF: _Type("application/rtf", frozenset({"rtf"})),
    AttachmentType.DOC: _Type("application/msword", frozenset({"doc"})),
    AttachmentType.TXT: _Type("text/plain", frozenset({"txt"})),
}

_MAGIC: tuple[tuple[bytes, AttachmentType], ...] = (
    (b"%PDF-", AttachmentType.PDF),
    (b"\xff\xd8\xff", AttachmentType.JPEG),
    (b"\x89PNG\r\n\x1a\n", AttachmentType.PNG),
    (b"II*\x00", AttachmentType.TIFF),
    (b"MM\x00*", AttachmentType.TIFF),
    (b"{\\rtf", AttachmentType.RTF),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", AttachmentType.DOC),
)

# Control characters a text file may hold: tab, line feed, form feed, carriage return.
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r")
_BINARY_CONTROLS = bytes(c for c in range(32) if c not in _TEXT_CONTROLS) + b"\x7f"
# The five bytes Windows-1252 leaves undefined: a file holding one is not text in it.
_CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_BINARY_CHARACTERS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def detect_magic(head: bytes) -> AttachmentType | None:
    for signature, kind in _MAGIC:
        if head.startswith(signature):
            return kind
    return None


class ContentSniffer:
    """Types a file fed chunk by chunk, and enforces the size limit while it streams.

    Text is only recognised after the last chunk: a file is text if it holds no NUL or other
    binary control character and all of it is UTF-8, or Windows-1252 (the text files of
    French software that predates UTF-8: "comprimé" in Latin-1 is Windows-1252 text too), or
    UTF-16 after its byte order mark.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._head = b""
        self._magic: AttachmentType | None = None
        self._decided = False
        self._text_possible = True
        self._utf8 = True
        self._cp1252 = True
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._utf16: codecs.IncrementalDecoder | None = None

    def feed(self, chunk: bytes) -> None:
        if self.size == 0 and chunk[:2] in _UTF16_BOMS:
            self._utf16 = codecs.getincrementaldecoder("utf-16")()
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise AttachmentTooLarge(
                f"The attachment exceeds the limit of {self.max_bytes} bytes.",
                max_bytes=self.max_bytes,
            )
        if not self._decided:
            self._head += chunk[: MAGIC_BYTES - len(self._head)]
            if len(self._head) >= MAGIC_BYTES:
                self._decide()
        if self._magic is None and self._text_possible:
            self._check_text(chunk, final=False)

    def _decide(self) -> None:
        self._decided = True
        self._magic = detect_magic(self._head)

    def _check_text(self, chunk: bytes, *, final: bool) -> None:
        if self._utf16 is not None:
            try:
                text = self._utf16.decode(chunk, final=final)
            except UnicodeDecodeError:
                self._text_possible = False
                return
            if _BINARY_CHARACTERS.search(text) is not None:
                self._text_possible = False
            return
        if chunk.translate(None, _BINARY_CONTROLS) != chunk:
            self._text_possible = False
            return
        if self._utf8:
            try:
                self._decoder.decode(chunk, final=final)
            except UnicodeDecodeError:
                self._utf8 = False
        if self._cp1252 and chunk.translate(None, _CP1252_UNDEFINED) != chunk:
            self._cp1252 = False
        self._text_possible = self._utf8 or self._cp1252

    def finish(self) -> AttachmentType:
        if self.size == 0:
            raise AttachmentEmpty("The attachment is empty.")
        if not self._decided:
            self._decide()
        if self._magic is not None:
            return self._magic
        if self._text_possible:
            self._check_text(b"", final=True)
        if self._text_possible:
            return AttachmentType.TXT
        raise type_not_allowed()


def type_not_allowed(why: str = "") -> AttachmentTypeNotAllowed:
    """The refusal of a file no message may carry; ``why`` comes before the rule."""
    return AttachmentTypeNotAllowed(
        why + "Only pdf, jpg/jpeg, png, tiff, txt, rtf and doc files may be attached.",
        allowed=sorted(ext for t in AttachmentType for ext in t.extensions),
    )


def holds_a_word_document(file: BinaryIO) -> bool:
    """Whether an OLE2 compound file holds the stream every Word 97-2003 document has; a
    file whose structure cannot be read holds none. Reads the file's directory, not all of
    it."""
    try:
        with olefile.OleFileIO(file) as ole:
            return bool(ole.exists("WordDocument"))
    except Exception:  # olefile reports a malformed file with whatever error it runs into
        return False


def check_extension(filename: str, detected: AttachmentType) -> None:
    """The name must announce what the content is; a missing extension is a mismatch too."""
    _, dot, ext = filename.rpartition(".")
    if not dot or ext.lower() not in detected.extensions:
        raise AttachmentTypeMismatch(
            f"The file content is {detected.value}, which does not match the name {filename!r}.",
            detected_type=detected.value,
        )


def sanitize_filename(raw: str | None) -> str:
    """Keep the last path component, drop control characters, cap the length.

    The name travels into ``Content-Disposition`` headers and professionals' software; a
    path or a control character there is an injection, not a name.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    if not name:
        name = "piece-jointe"
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and len(ext) <= 10:
            name = stem[: MAX_FILENAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME_LENGTH]
    return name
