"""A run that cannot write its files (a full disk, a read-only or busy directory) fails: one
line saying so, a non-zero exit status, and `failed` in status.json, never `running`."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import FAST, compose_config
from qa_experiments.cli.errors import storage_problem
from qa_experiments.lifecycle.job import train
from qa_experiments.runs import atomic, claim, layout


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


def test_storage_problems_are_named_from_the_errno_or_the_disk(tmp_path):
    def chained(inner: BaseException) -> RuntimeError:
        try:
            try:
                raise inner
            except OSError:
                raise RuntimeError("unexpected pos 777600 vs 777492")  # noqa: B904 - as torch
        except RuntimeError as error:
            return error

    full = storage_problem(chained(OSError(errno.ENOSPC, "No space left on device")), tmp_path)
    assert full.startswith(f"no space left on the disk holding {tmp_path}")
    read_only = storage_problem(OSError(errno.EROFS, "Read-only file system"), tmp_path)
    assert read_only == f"{tmp_path} is on a read-only file system"
    assert storage_problem(ValueError("a bug"), tmp_path) is None  # a disk with room


def test_a_run_directory_that_cannot_be_prepared_is_recorded_as_failed(tmp_path, monkeypatch):
    """Removing the earlier attempt's checkpoints failed (a busy mount, a read-only
    directory): the killed attempt's `running` must not stay, nor its earlier error."""
    run_dir = tmp_path / "run"
    cfg = compose_config(FAST + ["model=tiny_bert"], run_dir)
    run_dir.mkdir()
    layout.write_status(run_dir, layout.RUNNING, [])  # a killed earlier attempt

    def busy(directory):
        raise OSError(errno.EBUSY, "Device or resource busy", str(directory / "checkpoints"))

    monkeypatch.setattr(claim, "start_over", busy)
    with pytest.raises(OSError, match="busy"):
        train(cfg)
    status = json.loads((run_dir / layout.STATUS).read_text())
    assert status["status"] == "failed" and "Device or resource busy" in status["error"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="mounting a small tmpfs needs root")
def test_a_run_whose_disk_fills_up_fails_with_one_line_and_a_failed_status():
    """A real full disk: a 3 MB tmpfs fills with the second checkpoint of tiny BERT."""
    mount_point = Path(tempfile.mkdtemp(prefix="qa-full-disk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        run_dir = mount_point / "run"
        env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
        done = subprocess.run(
            [sys.executable, "-m", "qa_experiments.train", *FAST, "model=tiny_bert",
             "trainer.save_steps=1", "trainer.save_total_limit=null",
             f"hydra.run.dir={run_dir}"],
            capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 1, done.stderr[-3000:]
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1, done.stderr[-3000:]  # no "--- Logging error ---" dump
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert errors[0].startswith(f"qa-train: error: no space left on the disk holding "
                                    f"{run_dir}"), errors[0]
        assert "then run the command again (with resume=true" in errors[0]
        status = json.loads((run_dir / layout.STATUS).read_text())
        assert status["status"] == "failed", status
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        mount_point.rmdir()


def test_the_in_place_rewrite_refuses_a_missing_file(tmp_path):
    assert atomic.rewrite_in_place(tmp_path / "status.json", {"status": "failed"}) is False
