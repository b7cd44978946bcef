"""runs.staging: a staging folder is removed only when it is provably one (its marker) and its
writer has ended (its lock is free); a previous content moved aside is put back."""

from __future__ import annotations

import json
import os

from qa_experiments.runs import staging


def test_a_dead_writers_folder_is_removed_and_a_live_ones_kept(tmp_path):
    out = tmp_path / "onnx"
    dead = staging.make(out)
    (dead.path / "model.onnx").write_text("half")
    dead.close()  # as when the process dies: the OS drops the lock, the marker stays
    live = staging.make(out)
    try:
        assert staging.remove_dead(out) == [(dead.path, os.getpid())]
        assert not dead.path.exists() and (live.path / staging.MARKER).is_file()
    finally:
        live.close()


def test_what_is_not_a_marked_staging_folder_is_never_touched(tmp_path):
    out = tmp_path / "onnx"
    own = tmp_path / ".onnx.backup"  # a user's folder of the same form, unmarked
    own.mkdir()
    (own / "notes.txt").write_text("mine")
    (tmp_path / ".onnx.file").write_text("a file")
    other = staging.make(tmp_path / "other")  # another destination's staging folder
    other.close()
    link = tmp_path / ".onnx.link"
    link.symlink_to(other.path)
    foreign = tmp_path / ".onnx.foreign"
    foreign.mkdir()
    for marker in ({"pid": 1, "out": "onnx"}, {"pid": "1", "out": "onnx", "role": "new"}, []):
        (foreign / staging.MARKER).write_text(json.dumps(marker))
        assert staging.remove_dead(out) == []
    unfinished = staging.make(out)
    unfinished.unmark()  # complete, about to be renamed: no longer removable
    unfinished.close()
    assert staging.remove_dead(out) == []
    assert {p.name for p in tmp_path.iterdir()} == {
        ".onnx.backup", ".onnx.file", other.path.name, ".onnx.link", ".onnx.foreign",
        unfinished.path.name}
    assert (own / "notes.txt").read_text() == "mine"


def test_a_previous_export_moved_aside_is_put_back_when_nothing_replaced_it(tmp_path):
    out = tmp_path / "onnx"
    previous = staging.make(out, staging.PREVIOUS)
    (previous.path / "onnx").mkdir()
    (previous.path / "onnx" / "qa_export.json").write_text("{}")
    previous.close()
    assert [path for path, _ in staging.remove_dead(out)] == [previous.path]
    assert (out / "qa_export.json").read_text() == "{}" and not previous.path.exists()
