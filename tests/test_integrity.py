"""Results you can trust, through the real train CLI: refused runs leave a run directory
byte-identical, a run killed while saving its model is not `finished`, W&B start failures end
in one line, and a run tells its user what happened and what to do next."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from helpers import FAST, compose_config, snapshot
from qa_experiments.data.squad_files import DataError
from qa_experiments.train import train

TINY = FAST + ["model=tiny_bert"]


def train_cli(run_dir: Path, *overrides: str, env: dict | None = None,
              python: list[str] | None = None) -> subprocess.CompletedProcess:
    """`python -m qa_experiments.train` (or the given Python prefix) into `run_dir`."""
    command = python or [sys.executable, "-m", "qa_experiments.train"]
    return subprocess.run(
        [*command, *TINY, *overrides, f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=600, env=env or dict(os.environ),
    )


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    """The `qa-train: error:` lines of a refused command (on stderr; none on stdout)."""
    assert "error:" not in done.stdout
    return [line for line in done.stderr.splitlines() if line.startswith("qa-train: error: ")]


@pytest.mark.slow
def test_refused_and_reusing_runs_leave_a_finished_run_byte_identical(tmp_path):
    run_dir = tmp_path / "run"
    done = train_cli(run_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr  # what a newcomer reads
    assert "LOAD REPORT" not in output and "UNEXPECTED" not in output
    assert "Finished: exact_match=" in output
    assert f"qa-predict {run_dir}" in output and "qa-compare" in output
    assert f"qa-report {run_dir}" in output and (run_dir / "report" / "report.md").is_file()
    assert (run_dir / ".hydra" / "overrides.yaml").is_file()
    before = snapshot(run_dir)

    other = train_cli(run_dir, "optimizer.lr=1e-3")
    assert other.returncode == 2
    (line,) = error_lines(other)
    assert "never overwritten" in line and "optimizer.lr=1e-3" in line
    assert snapshot(run_dir) == before

    again = train_cli(run_dir)  # the same command reuses the result
    assert again.returncode == 0 and "reusing its results" in again.stdout
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_resume_with_changed_settings_is_refused_and_leaves_the_run_untouched(tmp_path):
    run_dir = tmp_path / "run"
    assert train_cli(run_dir, "trainer.save_steps=3").returncode == 0
    # The state a killed run leaves: status running, checkpoints, no results.
    (run_dir / "results.json").unlink()
    status = json.loads((run_dir / "status.json").read_text())
    (run_dir / "status.json").write_text(json.dumps({**status, "status": "running"}))
    before = snapshot(run_dir)

    changed = train_cli(run_dir, "trainer.save_steps=3", "resume=true", "optimizer.lr=1e-3",
                        "data.max_train_samples=30")
    assert changed.returncode == 2
    (line,) = error_lines(changed)
    assert "optimizer.lr=1e-3 (was: default)" in line
    assert "data.max_train_samples=30 (was: 24)" in line
    assert "without resume=true and with another hydra.run.dir" in line
    assert "Traceback" not in changed.stdout + changed.stderr
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_run_killed_while_saving_its_model_is_not_finished(tmp_path):
    """The model is saved through a hook that writes half of model.safetensors and then
    SIGKILLs the process: what a crash or power cut during the save leaves."""
    kill_during_save = (
        "import os, signal, sys, transformers\n"
        "from pathlib import Path\n"
        "save = transformers.Trainer.save_model\n"
        "def dying_save(self, output_dir=None, *args, **kwargs):\n"
        "    save(self, output_dir, *args, **kwargs)\n"
        "    if Path(output_dir).name.startswith('.model.'):\n"
        "        weights = Path(output_dir) / 'model.safetensors'\n"
        "        weights.write_bytes(weights.read_bytes()[:weights.stat().st_size // 2])\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "transformers.Trainer.save_model = dying_save\n"
        "sys.argv[0] = 'train'\n"
        "from qa_experiments.train import cli\n"
        "cli()\n"
    )
    run_dir = tmp_path / "run"
    killed = train_cli(run_dir, python=[sys.executable, "-c", kill_during_save])
    assert killed.returncode == -9
    assert json.loads((run_dir / "status.json").read_text())["status"] == "running"
    assert not (run_dir / "model").exists() and not (run_dir / "results.json").exists()
    (partial,) = run_dir.glob(".model.*.tmp")

    # The hint names what is there: the checkpoint the Trainer saved at the end of training.
    newest = max(run_dir.glob("checkpoints/checkpoint-*"), key=lambda p: int(p.name[11:]))
    for target, message in ((run_dir, f"use its newest checkpoint ('{newest}')"),
                            (partial, "is damaged")):
        done = subprocess.run(
            [sys.executable, "-m", "qa_experiments.predict", str(target), "-q", "Who?",
             "-c", "Ada wrote it."], capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.strip().splitlines()[-1].startswith("qa-predict: error: ")
        assert message in done.stderr and "Traceback" not in done.stderr

    stale = run_dir / "checkpoints" / "checkpoint-999"  # of an earlier attempt
    stale.mkdir(parents=True)
    again = train_cli(run_dir)  # the same command runs the job again, to the end
    assert again.returncode == 0, again.stderr[-2000:]
    assert not list(run_dir.glob(".*.tmp")) and not stale.exists()
    assert load_file(run_dir / "model" / "model.safetensors")


@pytest.mark.slow
def test_wandb_that_cannot_start_fails_in_one_line_and_is_recorded(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".status.json.x1y2.tmp").write_text('{"status": "runn')  # left by a crash
    offline = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    offline["HOME"] = str(tmp_path)  # no ~/.netrc login either
    cases = {
        "no API key": (offline, "No API key"),
        "bad WANDB_MODE": ({**offline, "WANDB_MODE": "bogus"}, "WANDB_MODE='bogus'"),
        "no network": ({**offline, "WANDB_API_KEY": "x" * 40,
                        "WANDB_BASE_URL": "http://127.0.0.1:9"}, "W&B could not start"),
    }
    for name, (env, message) in cases.items():
        done = train_cli(run_dir, "logger=wandb", "logger.wandb.mode=online", env=env)
        assert done.returncode == 2, name
        (line,) = error_lines(done)
        assert message in line and "logger=none" in line, (name, line)
        status = json.loads((run_dir / "status.json").read_text())
        assert status["status"] == "failed" and "TrackingError" in status["error"], name
        assert not list(run_dir.glob(".*.tmp")), name


def test_run_again_removes_what_an_unfinished_attempt_left(tmp_path):
    """A failed (or killed) attempt's results, predictions, model and report never stay beside
    the status of the attempt that replaced it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "status.json").write_text('{"status": "failed", "overrides": []}')
    for name in ("results.json", "predictions.json", "nbest_predictions.json",
                 "eval_questions.jsonl", "model/model.safetensors", "report/report.md"):
        (run_dir / name).parent.mkdir(exist_ok=True)
        (run_dir / name).write_text('{"f1": 99.0}')
    missing = tmp_path / "missing.json"  # this attempt fails on its inputs, after its claim
    cfg = compose_config(TINY + ["data=local", f"data.train_file={missing}",
                                 f"data.eval_file={missing}"], run_dir)
    with pytest.raises(DataError, match="missing.json"):
        train(cfg)
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"
    assert sorted(p.name for p in run_dir.iterdir()) == [".hydra", "status.json"]
