"""``.obskit-manifest.json``: what ``obskit init`` last wrote, as sha256 hashes.

It is how init tells a file it generated (hash matches: safe to replace) from a file someone
edited since (hash differs: left alone unless ``--force``). Secrets are never listed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from obskit.errors import InputError
from obskit.stack.serialize import to_json

NAME = ".obskit-manifest.json"


def is_confined(rel: str) -> bool:
    """Is ``rel`` a plain relative path that stays inside the directory it is relative to?
    (No absolute path, drive, ``..``, backslash or control character: a manifest can come
    from a repository, and ``init`` deletes what it lists.)"""
    if not rel or not rel.isprintable() or "\\" in rel or rel.startswith("/"):
        return False
    parts = PurePosixPath(rel).parts
    return not any(part in ("..", ".") or ":" in part for part in parts)


def digest(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


@dataclass
class Manifest:
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        path = out_dir / NAME
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            files = data["files"]
            if not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(h, str) for k, h in files.items()
            ):
                raise TypeError("files must map paths to hashes")
            for rel in files:
                if not is_confined(rel):
                    raise ValueError(
                        f"entry {rel!r} is not a path inside the output directory; "
                        "obskit deletes files the manifest lists, so it refuses this one"
                    )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(
                f"{path}: not a manifest obskit can read ({err})",
                hint="delete it and re-run `obskit init --force` to regenerate every file",
            ) from None
        return cls(dict(files))

    def text(self) -> str:
        return to_json({"generated_by": "obskit init", "files": dict(sorted(self.files.items()))})
