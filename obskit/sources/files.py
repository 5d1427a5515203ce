"""A trace from a file, or from stdin when the path is ``-``."""

from __future__ import annotations

import sys
from pathlib import Path

from obskit.errors import InputError
from obskit.sources import Payload


class FileSource:
    backend = "file"

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = "stdin" if path == "-" else path

    def close(self) -> None:
        pass

    def fetch(self, trace_id: str | None = None) -> Payload:
        if self.path == "-":
            data = sys.stdin.buffer.read()
            if not data:
                raise InputError("stdin is empty: pipe a trace file in, or pass --file PATH")
            return Payload(data=data, origin="stdin", backend=self.backend)
        path = Path(self.path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{self.path}: is a directory, expected a trace file") from None
        except OSError as err:
            raise InputError(f"{self.path}: cannot read it: {err.strerror or err}") from None
        if not data:
            raise InputError(f"{self.path}: the file is empty")
        return Payload(data=data, origin=self.path, backend=self.backend)
