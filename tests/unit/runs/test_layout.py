"""write_status: a failed status still reaches the disk when there is no room for a copy."""

from __future__ import annotations

import errno
import json
import os

import pytest

from qa_experiments.runs import layout


def test_a_failed_status_is_written_in_place_when_the_disk_has_no_room_for_a_copy(
        tmp_path, monkeypatch):
    """The atomic write needs room for a temporary copy; on a full disk the failed status
    goes over the old one, in the room it already takes (its error cut to fit)."""
    layout.write_status(tmp_path, layout.RUNNING, ["model=tiny_bert"])

    def disk_full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(layout, "write_json", lambda path, data: disk_full(path, data))
    layout.write_status(tmp_path, layout.FAILED, ["model=tiny_bert"], RuntimeError("x" * 20000))
    status = json.loads((tmp_path / layout.STATUS).read_text())
    assert status["status"] == "failed" and status["error"].startswith("RuntimeError: xxx")
    assert len((tmp_path / layout.STATUS).read_bytes()) <= max(
        4096, os.stat(tmp_path / layout.STATUS).st_blocks * 512)
    with pytest.raises(OSError):  # any other status still fails loudly
        layout.write_status(tmp_path, layout.FINISHED, ["model=tiny_bert"])
    assert not list(tmp_path.glob(".*.tmp"))
