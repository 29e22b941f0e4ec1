"""Reading trace files: plain text, gzip, xz or standard input (`-`), in large binary chunks.

The compression is recognised by the file's first bytes, not its name, so a `.txt` that is
really xz still reads. A missing or unreadable file is a `NetmatrixError` (exit code 2) raised
when the input is opened; a compressed stream that is cut short or corrupt is not fatal: what
was decoded is used and `problem` says why the input ended early.

Line ends: `\\r\\n` is read as `\\n` (a trace that went through a Windows tool still reads), and a
line longer than `MAX_LINE` bytes is skipped and counted in `oversize_lines` (no perf line is
that long; keeping it would make memory grow with the file).
"""

from __future__ import annotations

import gzip
import lzma
import os
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from orchestrator.errors import NetmatrixError

CHUNK_SIZE = 4 << 20
MAX_LINE = 16 << 20
_DECODE_STEP = 256 << 10

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"

_DECODE_ERRORS = (EOFError, lzma.LZMAError, gzip.BadGzipFile, zlib.error, OSError)


class TraceInput:
    """One trace input, opened at construction. Use as a context manager."""

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, *, name: str | None = None):
        self.problem: str | None = None
        self.bytes_read = 0
        self.oversize_lines = 0
        self.ends_with_newline = True
        self._owned: BinaryIO | None = None
        if isinstance(source, str | os.PathLike):
            text = os.fspath(source)
            if text == "-":
                self.name = name or "<stdin>"
                raw: BinaryIO = sys.stdin.buffer
            else:
                self.name = name or text
                raw = _open_file(Path(text))
                self._owned = raw
        else:
            self.name = name or getattr(source, "name", "<stream>")
            raw = source
        self.compression, self._stream = _decompressing(raw, self.name)

    def __enter__(self) -> TraceInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The decoded bytes, chunk by chunk. A decoding error ends the input (see `problem`).

        Compressed data is decoded in small steps, so that what precedes damage is kept.
        """
        step = size if self.compression == "plain" else min(size, _DECODE_STEP)
        while True:
            parts: list[bytes] = []
            wanted = size
            try:
                while wanted > 0:
                    part = self._stream.read(min(step, wanted))
                    if not part:
                        break
                    parts.append(part)
                    wanted -= len(part)
            except _DECODE_ERRORS as error:
                self.problem = (
                    f"{self.name}: {self.compression} data ends early or is corrupt ({error})"
                )
                wanted = -1
            chunk = b"".join(parts)
            if chunk:
                self.bytes_read += len(chunk)
                yield chunk
            if wanted != 0:
                return

    def lines(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The lines without their line end (`\\n` or `\\r\\n`); over-long lines are skipped."""
        rest = b""
        skipping = False
        last = b""
        for chunk in self.chunks(size):
            last = chunk
            buffer = rest + chunk if rest else chunk
            if b"\r\n" in buffer:
                buffer = buffer.replace(b"\r\n", b"\n")
            parts = buffer.split(b"\n")
            rest = parts.pop()
            if skipping and parts:
                parts[0:1] = []
                skipping = False
            yield from parts
            if len(rest) > MAX_LINE:
                if not skipping:
                    self.oversize_lines += 1
                skipping = True
                rest = rest[-1:] if rest.endswith(b"\r") else b""
        if skipping:
            return
        if rest:
            self.ends_with_newline = False
            yield rest
        elif last and not last.endswith(b"\n"):
            self.ends_with_newline = False


def _open_file(path: Path) -> BinaryIO:
    try:
        if path.is_dir():
            raise NetmatrixError(f"{path}: is a directory, not a trace file")
        return path.open("rb")
    except FileNotFoundError:
        raise NetmatrixError(f"{path}: no such file") from None
    except PermissionError:
        raise NetmatrixError(f"{path}: permission denied") from None
    except OSError as error:
        raise NetmatrixError(f"{path}: cannot be read ({error.strerror or error})") from None


def _peek(raw: BinaryIO, size: int) -> tuple[bytes, BinaryIO]:
    """The first bytes of a stream without consuming them (wrapping it when it cannot peek)."""
    peek = getattr(raw, "peek", None)
    if peek is not None:
        try:
            return peek(size)[:size], raw
        except (OSError, ValueError):
            pass
    if raw.seekable():
        head = raw.read(size)
        raw.seek(0)
        return head, raw
    head = raw.read(size)
    return head, _Prefixed(head, raw)


def _decompressing(raw: BinaryIO, name: str) -> tuple[str, BinaryIO]:
    try:
        head, raw = _peek(raw, len(_XZ_MAGIC))
    except OSError as error:
        raise NetmatrixError(f"{name}: cannot be read ({error.strerror or error})") from None
    if head.startswith(_XZ_MAGIC):
        return "xz", lzma.LZMAFile(raw)  # type: ignore[return-value]
    if head.startswith(_GZIP_MAGIC):
        return "gzip", gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return "plain", raw


class _Prefixed:
    """A stream whose first bytes were already read (to sniff the compression)."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if size < 0:
                return head + self._raw.read()
            if len(head) >= size:
                self._head = head[size:]
                return head[:size]
            return head + self._raw.read(size - len(head))
        return self._raw.read(size)

    def readable(self) -> bool:
        return True
