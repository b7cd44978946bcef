"""Mistakes on the train command line: one line on stderr (`qa-train: error: ...`), nothing on
stdout, exit status 2, nothing heavy done.

Every case runs the real entry point in a subprocess; none of them gets as far as loading data
or weights, so each takes seconds.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from helpers import FAST


def train_cli(*overrides, env=None):
    return subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *overrides],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def console_lines(done) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def error_line(done) -> str:
    """The one line a refused command prints: on stderr, in the one format, stdout empty."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "", done.stdout
    (line,) = console_lines(done)
    assert line.startswith("qa-train: error: "), line
    return line


@pytest.mark.parametrize(
    "override,expected",
    [
        ("model=bert2",
         "choose one of: bert, deberta_v3, distilbert, electra, minilm, modernbert, roberta"),
        ("optimizer.lr=abc", "Value 'abc' of type 'str' could not be converted to Float"),
        ("data.max_seq_lenght=256", "did you mean data.max_seq_length?"),
        ("trainer.num_train_epoch=2", "did you mean trainer.num_train_epochs?"),
        ("trainer.label_smoothing_factor=0.1", "add it with +trainer.label_smoothing_factor="),
        ("optimizer.lr=[", "cannot parse the override 'optimizer.lr=['"),
    ],
)
def test_hydra_errors_are_one_line_and_exit_2(override, expected, tmp_path):
    done = train_cli("logger=none", override, f"hydra.run.dir={tmp_path / 'run'}")
    assert expected in error_line(done)
    assert "HYDRA_FULL_ERROR=1" in done.stderr


def test_conflicting_hydra_flags_are_one_line():
    done = train_cli("-m", "model=tiny_bert", "--cfg", "job")
    error_line(done)
    assert "Only one of --run, --multirun, --cfg" in done.stderr


def test_hydra_full_error_shows_the_full_report():
    done = train_cli("model=bert2", env={"HYDRA_FULL_ERROR": "1"})
    assert done.returncode == 1 and "Traceback" in done.stderr
    assert "Available options in 'model'" in done.stderr


@pytest.mark.parametrize("multirun", [False, True])
def test_unwritable_run_directory_is_one_line(multirun, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    where = f"hydra.sweep.dir={blocker}/sweep" if multirun else f"hydra.run.dir={blocker}/run"
    done = train_cli(*(["-m", "optimizer.lr=1e-5,2e-5"] if multirun else []), "logger=none", where)
    error_line(done)
    assert f"cannot create or write {blocker}/" in done.stderr and "hydra.run.dir" in done.stderr


@pytest.mark.parametrize(
    "override,message",
    [
        ("optimizer.lr=0", "optimizer.lr=0.0 is out of range: allowed > 0"),
        ("hardware.eval_batch_size=0", "hardware.eval_batch_size=0 is out of range: allowed >= 1"),
        ("data.max_seq_length=1024", "data.max_seq_length=1024 is out of range for model=minilm:"
                                     " allowed <= 512"),
        ("data=squad", "Cannot load dataset 'rajpurkar/squad'"),  # HF_HUB_OFFLINE, not cached
    ],
)
def test_bad_values_and_sources_fail_before_anything_is_loaded(override, message, tmp_path):
    run_dir = tmp_path / "run"
    done = train_cli("logger=wandb", override, f"hydra.run.dir={run_dir}",
                     env={"WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"})
    line = error_line(done)
    assert message in line
    assert not (run_dir / "config.json").exists() and not (run_dir / "wandb").exists()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and message in status["error"]


@pytest.mark.parametrize("problem", ["missing", "truncated_gzip"])
def test_bad_data_file_fails_in_one_line_before_wandb_starts(problem, tmp_path):
    path = tmp_path / "train.json.gz"
    if problem == "truncated_gzip":
        data = gzip.compress(b'{"data": [' + b'{"title": "t", "paragraphs": []},' * 500 + b"]}")
        path.write_bytes(data[: len(data) // 2])
    run_dir = tmp_path / "run"
    done = train_cli(*FAST, "logger=wandb", "data=local", f"data.train_file={path}",
                     f"data.eval_file={path}", f"hydra.run.dir={run_dir}",
                     env={"WANDB_MODE": "offline"})
    line = error_line(done)
    assert "train.json.gz" in line and ("does not exist" in line or "cut short" in line), line
    assert not (run_dir / "wandb").exists()


def test_help_and_cfg_still_work():
    help_text = train_cli("--help").stdout
    assert help_text.startswith("qa-train: fine-tune") and "${" not in help_text
    assert "model: bert, deberta_v3, distilbert, electra, minilm, modernbert, roberta" in help_text
    assert "qa-train -m model=bert,distilbert,roberta optimizer.lr=2e-5,3e-5" in help_text
    done = train_cli("model=tiny_bert", "--cfg", "job")
    assert done.returncode == 0 and "name: tiny_bert" in done.stdout


