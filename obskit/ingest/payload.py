"""Input bytes for the readers, from ``bytes``, ``str``, a ``Path`` or a binary file object.

The sniffer peeks at the first line; the reader then takes either the whole document or the
remaining lines one by one, so a JSON Lines file is never held in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from obskit.errors import InputError

_BOM = b"\xef\xbb\xbf"


class InputReader:
    """One input. ``str`` is document text (not a path); pass a ``Path`` for a file."""

    def __init__(self, data: bytes | bytearray | memoryview | str | Path | BinaryIO) -> None:
        self._file: BinaryIO | _BytesReader | None = None
        self._owned = False
        self._peeked: list[bytes] = []
        self.name = "input"
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._file = _BytesReader(bytes(data))
        elif isinstance(data, str):
            self._file = _BytesReader(data.encode("utf-8", "surrogatepass"))
        elif isinstance(data, Path):
            self.name = str(data)
            try:
                self._file = open(data, "rb")  # noqa: SIM115 - closed by close()
            except FileNotFoundError:
                raise InputError(f"{data}: no such file") from None
            except IsADirectoryError:
                raise InputError(f"{data}: is a directory, expected a trace file") from None
            except OSError as err:
                raise InputError(f"{data}: cannot read: {err.strerror or err}") from None
            self._owned = True
        elif hasattr(data, "read"):
            self._file = data
            self.name = str(getattr(data, "name", "input"))
        else:
            raise InputError(f"cannot read a trace from {type(data).__name__}")
        self.head = self._readline()
        if self.head.startswith(_BOM):
            self.head = self.head[len(_BOM) :]

    # -- raw access ------------------------------------------------------------------------

    def _readline(self) -> bytes:
        assert self._file is not None
        try:
            line = self._file.readline()
        except OSError as err:
            raise InputError(f"{self.name}: cannot read: {err}") from None
        if isinstance(line, str):  # a text-mode file object (e.g. sys.stdin)
            return line.encode("utf-8", "surrogatepass")
        return bytes(line)

    def _read_rest(self) -> bytes:
        assert self._file is not None
        try:
            rest = self._file.read()
        except OSError as err:
            raise InputError(f"{self.name}: cannot read: {err}") from None
        return rest.encode("utf-8", "surrogatepass") if isinstance(rest, str) else bytes(rest)

    def close(self) -> None:
        if self._owned and self._file is not None:
            self._file.close()
        self._file = None

    # -- views the readers use --------------------------------------------------------------

    def more_lines_follow(self) -> bool:
        """Is there non-blank content after the first line? (Peeks, keeps what it read.)"""
        while True:
            line = self._readline()
            if not line:
                return False
            self._peeked.append(line)
            if line.strip():
                return True

    def read_all(self) -> bytes:
        """The whole input (first line included)."""
        return self.head + b"".join(self._peeked) + self._read_rest()

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line_number, line)`` from the first line on, streaming."""
        number = 1
        yield number, self.head
        for line in self._peeked:
            number += 1
            yield number, line
        self._peeked = []
        while True:
            line = self._readline()
            if not line:
                return
            number += 1
            yield number, line


class _BytesReader:
    """``readline``/``read`` over bytes already in memory. Unlike ``io.BytesIO`` it returns the
    input object itself, not a copy, when a read takes all of it: a compact JSON document is
    one line, and copying a 500 MB trace would double the reader's peak memory."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def readline(self) -> bytes:
        data, pos = self._data, self._pos
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        self._pos = end
        return data if pos == 0 and end == len(data) else data[pos:end]

    def read(self) -> bytes:
        data, pos = self._data, self._pos
        self._pos = len(data)
        return data if pos == 0 else data[pos:]

    def close(self) -> None:
        self._data = b""


def load_json(data: bytes, where: str = "") -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as err:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}invalid JSON: {err}") from None
