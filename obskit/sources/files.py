"""Traces from files, directories, globs or stdin (``-``).

One trace (:meth:`FileSource.fetch`): the file's bytes. Many (:meth:`FileSource.traces`): each
file (or each file of a directory, or each match of a glob, in name order) is streamed with
:func:`obskit.ingest.read_traces`; JSON Lines are read with a window of lines so memory stays
bounded however long the file is.
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from obskit.errors import InputError
from obskit.model import Trace
from obskit.sources import Payload

# JSON Lines: a trace is complete once this many lines passed without one of its spans
# (the Collector flushes one trace's batches within seconds; see obskit.ingest.read_traces).
LINE_WINDOW = 500
FILE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".pb", ".bin", ".proto")
_GLOB_CHARS = frozenset("*?[")


class FileSource:
    backend = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.description = "stdin" if self.path == "-" else self.path

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

    def files(self) -> list[Path] | None:
        """The files to read, in order; None for stdin."""
        return None if self.path == "-" else trace_files(self.path)

    def traces(self, *, window: int = LINE_WINDOW) -> Iterator[Trace]:
        """Every trace, streamed, in the order the files hold them."""
        if self.path == "-":
            from obskit.ingest import read_traces

            yield from read_traces(sys.stdin.buffer, window=window)
        else:
            yield from read_paths(trace_files(self.path), window=window)


def trace_files(path: str) -> list[Path]:
    """The files to read: the path itself, a directory's trace files or a glob's matches, in
    name order."""
    root = Path(path)
    if root.is_dir():
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in FILE_SUFFIXES and not p.name.startswith(".")
        )
        if not files:
            raise InputError(
                f"{path}: no trace files in this directory (looked for {', '.join(FILE_SUFFIXES)})"
            )
        return files
    if not root.exists():
        matches = sorted(glob.glob(path, recursive=True)) if _GLOB_CHARS & set(path) else []
        files = [Path(m) for m in matches if Path(m).is_file()]
        if files:
            return files
        raise InputError(f"{path}: no such file or directory")
    return [root]


def read_paths(files: Iterable[Path], *, window: int = LINE_WINDOW) -> Iterator[Trace]:
    """Every trace of ``files``, in order; errors name the file."""
    from obskit.ingest import read_traces

    for file in files:
        try:
            yield from read_traces(file, window=window)
        except InputError as err:
            message = str(err)
            prefix = f"{file}: "
            raise InputError(
                message if message.startswith(str(file)) else prefix + message
            ) from None
