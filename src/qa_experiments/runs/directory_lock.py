"""Locks on a directory itself (flock), which the OS drops however the process ends: a crash
never leaves one behind and nothing is written for it. Always tried without waiting."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def open_directory(path: Path, *, follow_links: bool = True) -> int | None:
    """A read-only descriptor of the directory `path` (None: no such directory, a link when
    `follow_links` is False, or one this user cannot open)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | (0 if follow_links else os.O_NOFOLLOW)
    try:
        return os.open(path, flags)
    except OSError:
        return None


def try_lock(handle: int, *, exclusive: bool) -> bool | None:
    """Lock the open directory `handle`: True when taken (held until the descriptor is closed),
    False when a live process holds a conflicting lock, None on a file system without flock
    (where no process can hold one either)."""
    try:
        fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True
