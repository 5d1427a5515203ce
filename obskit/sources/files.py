"""A trace from a file, or from stdin when the path is ``-``, at most ``max_bytes`` of it (the
limit HTTP answers have: /dev/zero or a runaway pipe must end in a message, not a MemoryError)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from obskit.errors import InputError
from obskit.sources import Payload
from obskit.sources.http import DEFAULT_MAX_BYTES


class FileSource:
    backend = "file"

    def __init__(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.description = "stdin" if path == "-" else path

    def close(self) -> None:
        pass

    def fetch(self, trace_id: str | None = None) -> Payload:
        if self.path == "-":
            data = self._read(sys.stdin.buffer)
            if not data:
                raise InputError("stdin is empty: pipe a trace file in, or pass --file PATH")
            return Payload(data=data, origin="stdin", backend=self.backend)
        path = Path(self.path)
        try:
            with path.open("rb") as file:
                data = self._read(file)
        except FileNotFoundError:
            raise InputError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{self.path}: is a directory, expected a trace file") from None
        except OSError as err:
            raise InputError(f"{self.path}: cannot read it: {err.strerror or err}") from None
        if not data:
            raise InputError(f"{self.path}: the file is empty")
        return Payload(data=data, origin=self.path, backend=self.backend)

    def _read(self, file: BinaryIO) -> bytes:
        data = file.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise InputError(
                f"{self.description}: more than {self.max_bytes} bytes",
                hint="pass --max-size (or set OBSKIT_MAX_RESPONSE_BYTES) if the trace "
                "really is that big",
            )
        return data
