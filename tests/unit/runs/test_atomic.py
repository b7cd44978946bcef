"""Atomic writers: no temporary file left behind, directories replaced whole, strict JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa_experiments.runs import atomic
from qa_experiments.runs import atomic as results


def test_writers_leave_no_temporary_file_when_writing_fails(tmp_path, monkeypatch):
    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", fail)
    with pytest.raises(OSError):
        results.write_json(tmp_path / "status.json", {"status": "running"})
    with pytest.raises(OSError):
        results.write_directory(tmp_path / "model", lambda d: (Path(d) / "w").write_text("x"))
    assert os.listdir(tmp_path) == []


def test_directory_is_replaced_whole(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "stale.bin").write_text("old")
    results.write_directory(tmp_path / "model", lambda d: (Path(d) / "w").write_text("new"))
    assert os.listdir(tmp_path / "model") == ["w"]
    assert oct(os.stat(tmp_path / "model").st_mode & 0o777) == "0o755"


def test_every_json_file_written_is_strict_json(tmp_path):
    """A NaN or infinity is written as null (unknown), never as Python's bare NaN, which
    strict parsers (JavaScript's JSON.parse, jq) reject."""
    path = results.write_json(tmp_path / "r.json", {"f1": float("nan"), "runtime": 1.5,
                                                   "nested": [float("inf"), {"x": -float("inf")}]})

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    assert json.loads(path.read_text(), parse_constant=refuse) == {
        "f1": None, "runtime": 1.5, "nested": [None, {"x": None}]}


def test_the_in_place_rewrite_refuses_a_missing_file(tmp_path):
    assert atomic.rewrite_in_place(tmp_path / "status.json", {"status": "failed"}) is False
