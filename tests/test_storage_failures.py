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
from qa_experiments.lifecycle.job import train
from qa_experiments.runs import claim, layout


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


