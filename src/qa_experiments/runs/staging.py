"""Hidden folders written beside a destination and renamed into place when complete (qa-export),
and the removal of those that a killed writer left.

A staging folder `.NAME.xxxxxxxx` beside `NAME` is made by `make`: its writer holds an
exclusive lock on it (flock, which the OS drops however the process ends) and writes a marker
file into it (MARKER: the writer's pid and role) only once the lock is held, and removes the
marker before it renames the folder into place. So a folder that holds the marker and whose
lock can be taken is one whose writer died before finishing: `remove_dead` removes only those.
A folder without the marker (a user's own `.NAME.backup`, a folder not yet marked) or one whose
writer still holds the lock is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qa_experiments.runs.directory_lock import open_directory, try_lock

MARKER = ".qa-staging.json"
# What a staging folder holds: the new content, or the previous content moved aside while the
# new one is renamed into its place (restored to NAME if its writer died in between).
NEW, PREVIOUS = "new", "previous"


@dataclass
class Staging:
    """A locked, marked staging folder (see the module docstring)."""

    path: Path
    handle: int  # the open directory that holds the lock

    def unmark(self) -> None:
        """Remove the marker: the folder's content is complete (call before renaming it)."""
        (self.path / MARKER).unlink(missing_ok=True)

    def close(self) -> None:
        """Release the lock (the folder itself is left as it is)."""
        os.close(self.handle)


def make(out: Path, role: str = NEW) -> Staging:
    """A new hidden folder `.NAME.xxxxxxxx` beside `out` (`.NAME.old.xxxxxxxx` for PREVIOUS),
    locked by this process and marked with its pid; OSError when it cannot be made."""
    prefix = f".{out.name}.old." if role == PREVIOUS else f".{out.name}."
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
    handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not try_lock(handle, exclusive=True):  # new: nobody else holds it; None: no flock
            raise OSError(f"cannot lock the staging folder {path} (a file system without flock)")
        (path / MARKER).write_text(json.dumps({"pid": os.getpid(), "out": out.name,
                                               "role": role}))
    except BaseException:
        os.close(handle)
        shutil.rmtree(path, ignore_errors=True)
        raise
    return Staging(path, handle)


def remove_dead(out: Path) -> list[tuple[Path, int]]:
    """Remove the staging folders beside `out` whose writer died before finishing (a previous
    content moved aside is put back at `out` when nothing took its place); the removed
    folders with their writers' pids."""
    removed = []
    for path in sorted(Path(out.parent).glob(f".{out.name}.*")):
        marker = _marker(path, out.name)
        if marker is None:
            continue
        with _lock_of_dead_writer(path) as dead:
            if not dead:
                continue
            if marker["role"] == PREVIOUS and not os.path.lexists(out) \
                    and (path / out.name).is_dir():
                os.replace(path / out.name, out)
            shutil.rmtree(path)
        removed.append((path, marker["pid"]))
    return removed


def _marker(path: Path, name: str) -> dict | None:
    """The marker of the staging folder `path` for `name`, else None (not a folder, a link,
    no marker or one that is not a plain file of this module's form)."""
    try:
        if not stat.S_ISDIR(path.lstat().st_mode):
            return None
        marker_path = path / MARKER
        if not stat.S_ISREG(marker_path.lstat().st_mode) or marker_path.stat().st_size > 4096:
            return None
        marker = json.loads(marker_path.read_text())
    except (OSError, ValueError):
        return None
    valid = (isinstance(marker, dict) and marker.get("out") == name
             and marker.get("role") in (NEW, PREVIOUS)
             and isinstance(marker.get("pid"), int) and not isinstance(marker["pid"], bool))
    return marker if valid else None


@contextlib.contextmanager
def _lock_of_dead_writer(path: Path):
    """True while this process holds the lock of `path`, taken without waiting (its writer
    has ended); False when a live writer holds it or it cannot be tried."""
    handle = open_directory(path, follow_links=False)
    if handle is None:
        yield False
        return
    try:
        yield try_lock(handle, exclusive=True) is True
    finally:
        os.close(handle)
