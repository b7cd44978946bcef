"""Directory locks (flock): who holds one, and directories that cannot be opened."""

from __future__ import annotations

import os

from qa_experiments.runs.directory_lock import open_directory, try_lock


def test_an_exclusive_lock_keeps_out_every_other_until_closed(tmp_path):
    first, second = open_directory(tmp_path), open_directory(tmp_path)
    assert try_lock(first, exclusive=True) is True
    assert try_lock(second, exclusive=True) is False
    assert try_lock(second, exclusive=False) is False
    os.close(first)
    assert try_lock(second, exclusive=True) is True
    os.close(second)


def test_shared_locks_go_together_and_keep_out_an_exclusive_one(tmp_path):
    readers = [open_directory(tmp_path) for _ in range(2)]
    assert [try_lock(handle, exclusive=False) for handle in readers] == [True, True]
    writer = open_directory(tmp_path)
    assert try_lock(writer, exclusive=True) is False
    for handle in (*readers, writer):
        os.close(handle)


def test_missing_directories_files_and_unfollowed_links_do_not_open(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert open_directory(tmp_path / "missing") is None
    assert open_directory(tmp_path / "file") is None
    assert open_directory(tmp_path / "link", follow_links=False) is None
    handle = open_directory(tmp_path / "link")
    assert handle is not None
    os.close(handle)
