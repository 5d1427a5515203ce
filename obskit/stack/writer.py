"""Writing a generated stack to disk without ever losing a user's edits.

:func:`render` turns the spec into file texts (nothing touches the disk, so a bad spec or a
generator error writes nothing). :func:`plan` compares them with the directory and the
manifest of what obskit last wrote (:mod:`obskit.stack.manifest`):

* a missing file is created; a file obskit wrote and nobody changed is updated;
* a file whose hash differs from the manifest (or that obskit never wrote) was edited by hand:
  it is left alone (``KEPT``) unless ``force``;
* a file obskit wrote earlier but no longer generates (tempo -> jaeger) is removed, unless it
  was edited.

:func:`write` applies a plan, :func:`diff` shows one as a unified diff, :func:`check` lists
what is out of date. Secrets (:func:`ensure_secrets`) are created once, never listed in the
manifest, and ``secrets/`` is git-ignored.

Permissions: the containers read these files through bind mounts, with the host's mode and
numeric owner, as users that are not you (Grafana uid 472, Prometheus and Alertmanager
nobody, the Collector and Tempo 10001). Generated files are therefore mode 0644 and their
directories 0755 whatever the umask. A secret is mode 0644 too, inside ``secrets/`` of mode
0700: the container reads the file, other users of the host cannot enter the directory.
(Compose's ``uid``/``gid``/``mode`` secret options apply to Swarm only; a ``group_add`` of
your group would need your gid in the generated files.)
"""

from __future__ import annotations

import difflib
import os
import secrets as pysecrets
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from obskit.errors import InputError
from obskit.stack.compose import GRAFANA_PASSWORD_FILE
from obskit.stack.manifest import NAME as MANIFEST_NAME
from obskit.stack.manifest import Manifest, digest
from obskit.stack.spec import Spec

GITIGNORE = ".gitignore"
SECRETS_DIR = "secrets"
GITIGNORE_LINE = "secrets/"
FILE_MODE = 0o644  # read by container users that are not the file's owner
DIR_MODE = 0o755
SECRETS_DIR_MODE = 0o700  # what keeps the secrets from other users of the host
SECRET_MODE = 0o644  # readable by the container user, through the bind mount


class Status(Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"  # edited by hand: left alone
    OVERWRITTEN = "overwrote"  # edited by hand, replaced because of --force
    REMOVED = "removed"  # no longer generated
    ORPHANED = "orphaned"  # no longer generated, but edited by hand: left alone


@dataclass(frozen=True)
class Change:
    path: str
    status: Status
    text: str | None = None  # what obskit would write (None for removals)


@dataclass
class Report:
    out_dir: Path
    changes: list[Change] = field(default_factory=list)
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # (path, status, why)

    def paths(self, *statuses: Status) -> list[str]:
        return [c.path for c in self.changes if c.status in statuses]

    def count(self, status: Status) -> int:
        return len(self.paths(status))


def render(spec: Spec, *, spec_name: str = "obskit.yaml") -> dict[str, str]:
    """Every generated file's text, keyed by path relative to the output directory."""
    from obskit.stack import generate_stack
    from obskit.stack.serialize import serialize

    return {
        path: serialize(path, data, spec_name=spec_name)
        for path, data in generate_stack(spec).items()
    }


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, where obskit generates a file") from None


def plan(out_dir: Path, rendered: dict[str, str], *, force: bool = False) -> list[Change]:
    manifest = Manifest.load(out_dir)
    changes: list[Change] = []
    for rel, text in rendered.items():
        current = _current(out_dir / rel)
        if current is None:
            status = Status.CREATED
        elif current == text.encode("utf-8"):
            status = Status.UNCHANGED
        elif manifest.files.get(rel) == digest(current):
            status = Status.UPDATED
        else:
            status = Status.OVERWRITTEN if force else Status.KEPT
        changes.append(Change(rel, status, text))
    for rel in sorted(set(manifest.files) - set(rendered)):
        current = _current(out_dir / rel)
        if current is None:
            continue
        edited = digest(current) != manifest.files[rel]
        changes.append(Change(rel, Status.ORPHANED if edited and not force else Status.REMOVED))
    return changes


def _make_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each mode 0755 whatever the umask."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent)
    directory.mkdir(exist_ok=True)
    os.chmod(directory, DIR_MODE)


def _write_atomic(path: Path, text: str) -> None:
    _make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.obskit-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def write(out_dir: Path, rendered: dict[str, str], *, force: bool = False) -> Report:
    """Apply the plan; the manifest records exactly the files that now hold obskit's text."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is not a directory", hint="give --out a directory")
    changes = plan(out_dir, rendered, force=force)
    manifest = Manifest.load(out_dir)
    for change in changes:
        target = out_dir / change.path
        if change.status in (Status.CREATED, Status.UPDATED, Status.OVERWRITTEN):
            assert change.text is not None
            _write_atomic(target, change.text)
        if change.status is Status.REMOVED:
            target.unlink()
        if change.status in (Status.REMOVED, Status.ORPHANED):
            manifest.files.pop(change.path, None)
        elif change.status is not Status.KEPT:
            manifest.files[change.path] = digest(change.text or "")
    _write_atomic(out_dir / MANIFEST_NAME, manifest.text())
    report = Report(out_dir, changes)
    report.notes += ensure_secrets(out_dir)
    return report


def diff(out_dir: Path, rendered: dict[str, str]) -> tuple[str, list[Change]]:
    """A unified diff from what is on disk to what ``obskit init`` would write (``--force``
    included: edited files show how they differ). Writes nothing."""
    changes = [c for c in plan(out_dir, rendered, force=True) if c.status is not Status.UNCHANGED]
    chunks: list[str] = []
    for change in changes:
        current = _current(out_dir / change.path)
        old = current.decode("utf-8", errors="replace").splitlines(keepends=True) if current else []
        new = (change.text or "").splitlines(keepends=True)
        chunks.extend(
            difflib.unified_diff(
                old,
                new,
                fromfile="/dev/null" if current is None else f"a/{change.path}",
                tofile="/dev/null" if change.status is Status.REMOVED else f"b/{change.path}",
            )
        )
    return "".join(chunks), plan(out_dir, rendered, force=False)


def check(out_dir: Path, rendered: dict[str, str]) -> list[tuple[str, str]]:
    """(path, problem) for every generated file that is missing or differs from what the
    spec gives now, and every file obskit wrote but no longer generates."""
    manifest = Manifest.load(out_dir)
    problems: list[tuple[str, str]] = []
    for change in plan(out_dir, rendered, force=False):
        if change.status is Status.CREATED:
            problems.append((change.path, "missing"))
        elif change.status is Status.UPDATED:
            problems.append((change.path, "out of date"))
        elif change.status is Status.KEPT:
            known = change.path in manifest.files
            problems.append((change.path, "edited by hand" if known else "not written by obskit"))
        elif change.status in (Status.REMOVED, Status.ORPHANED):
            problems.append((change.path, "no longer generated"))
    return problems


def ensure_secrets(out_dir: Path) -> list[tuple[str, str, str]]:
    """The Grafana admin password (created once) and ``secrets/`` in ``.gitignore``; the
    directory mode 0700, the file 0644 (see the module's docstring)."""
    notes: list[tuple[str, str, str]] = []
    secrets_dir = out_dir / SECRETS_DIR
    secrets_dir.mkdir(mode=SECRETS_DIR_MODE, exist_ok=True)
    if secrets_dir.stat().st_mode & 0o777 != SECRETS_DIR_MODE:
        os.chmod(secrets_dir, SECRETS_DIR_MODE)
        notes.append((f"{SECRETS_DIR}/", "updated", "mode 0700: only you can enter it"))
    password = out_dir / GRAFANA_PASSWORD_FILE
    if not password.exists():
        fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(pysecrets.token_urlsafe(24))
        os.chmod(password, SECRET_MODE)  # whatever the umask
        notes.append(
            (
                GRAFANA_PASSWORD_FILE,
                "created",
                "Grafana admin password, mode 0644 in a 0700 directory: Grafana (uid 472)"
                " reads it, other users of this host cannot",
            )
        )
    elif password.stat().st_mode & 0o777 != SECRET_MODE:
        os.chmod(password, SECRET_MODE)
        notes.append(
            (GRAFANA_PASSWORD_FILE, "updated", "mode 0644, so that Grafana (uid 472) can read it")
        )
    notes += _ensure_gitignore(out_dir / GITIGNORE)
    return notes


def _ensure_gitignore(path: Path) -> list[tuple[str, str, str]]:
    if not path.exists():
        path.write_text(
            f"# obskit init: generated secrets never belong in version control\n{GITIGNORE_LINE}\n",
            encoding="utf-8",
        )
        return [(GITIGNORE, "created", "ignores secrets/")]
    text = path.read_text(encoding="utf-8")
    if {line.strip() for line in text.splitlines()} & {GITIGNORE_LINE, "/secrets/", "/secrets"}:
        return []
    with path.open("a", encoding="utf-8") as handle:
        handle.write(("" if text.endswith("\n") or not text else "\n") + f"{GITIGNORE_LINE}\n")
    return [(GITIGNORE, "updated", "now ignores secrets/")]


def missing_secret_files(out_dir: Path, spec: Spec) -> list[tuple[str, str]]:
    """Secret files the spec names (Slack URL, SMTP password) that do not exist yet:
    compose refuses to start without them."""
    from obskit.stack.alertmanager import secret_files

    found = []
    for name, rel in secret_files(spec).items():
        path = Path(rel) if rel.startswith("/") else out_dir / rel
        if not path.exists():
            found.append(
                (
                    rel,
                    f"missing: put the {name.replace('_', ' ')} in it, mode 0644 in a directory"
                    " of mode 0700 (Alertmanager runs as nobody and reads it through a bind"
                    " mount)",
                )
            )
    return found
