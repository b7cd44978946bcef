"""Write run artefacts atomically: a crash never leaves a half-written file or model behind."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file and an atomic rename; the temporary
    file is removed if writing fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False,
        encoding="utf-8",
    )
    try:
        with handle:
            handle.write(text)
        os.chmod(handle.name, 0o644)  # NamedTemporaryFile creates 0600 files
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as strict, indented JSON to `path` atomically (see write_text). A NaN or
    infinite number (not a number JSON can hold; strict parsers reject Python's `NaN`) is
    written as null: unknown."""
    text = json.dumps(finite_or_null(data), indent=2, ensure_ascii=False, allow_nan=False)
    return write_text(path, text + "\n")


def rewrite_in_place(path: str | Path, data: Any, shorten: str | None = None) -> bool:
    """Write `data` as JSON over the existing file `path`, in the room it already takes on disk:
    the fallback for a small record (a failed status) when the disk is full, where the atomic
    write cannot make its temporary copy. Too long for that room, the text under the key
    `shorten` is cut. Not atomic; False when it cannot be written either."""
    path = Path(path)
    try:
        room = max(path.stat().st_blocks * 512, path.stat().st_size)
        while True:
            text = json.dumps(finite_or_null(data), indent=2, ensure_ascii=False,
                              allow_nan=False) + "\n"
            encoded = text.encode("utf-8")
            cut = data.get(shorten) if shorten and isinstance(data, dict) else None
            if len(encoded) <= room or not isinstance(cut, str) or len(cut) < 8:
                break
            data = {**data, shorten: cut[: len(cut) // 2] + "..."}
        with path.open("r+b") as handle:
            handle.write(encoded)
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        return False
    return True


def finite_or_null(data: Any) -> Any:
    """`data` with every NaN or infinite float replaced by None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite_or_null(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_null(value) for value in data]
    return data


def write_directory(path: str | Path, save: Callable[[str], None]) -> Path:
    """Let `save(tmp_dir)` fill a temporary sibling of `path`, then rename it to `path`: a
    crash while saving leaves no (partial) `path`, only a `.NAME.*.tmp` directory."""
    path = Path(path)
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        save(str(scratch))
        os.chmod(scratch, 0o755)  # mkdtemp creates 0700 directories
        if path.exists():
            shutil.rmtree(path)  # a model left by an earlier, unfinished attempt
        os.replace(scratch, path)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return path
