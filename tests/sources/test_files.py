"""A file source: one file, a directory's trace files, a glob's matches, in name order."""

from __future__ import annotations

from pathlib import Path

import pytest

from obskit.errors import InputError
from obskit.sources.files import FileSource


def test_a_glob_reads_its_matching_files_in_name_order(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.jsonl", "c.json", "notes.txt"):
        (tmp_path / name).write_text("{}\n")
    source = FileSource(str(tmp_path / "*.jsonl"))
    assert source.files() == [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]


def test_a_glob_without_a_match_is_no_such_file(tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.jsonl")
    with pytest.raises(InputError, match=r": no such file or directory$"):
        FileSource(pattern).files()


def test_stdin_has_no_files_to_hand_to_workers() -> None:
    assert FileSource("-").files() is None
