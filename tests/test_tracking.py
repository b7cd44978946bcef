"""Where a resumed W&B offline run continues (real offline runs, no training; the rest of the
run set-up is in tests/unit/tracking/test_wandb_run.py)."""

from __future__ import annotations

import logging
import shutil

import wandb
from omegaconf import OmegaConf

from qa_experiments.tracking.wandb_history import last_written_step
from qa_experiments.tracking.wandb_run import start_run

LOGGER = {"name": "wandb", "mode": "offline", "project": "test", "entity": None, "group": None,
          "tags": []}


def offline_attempt(run_dir, steps, resume=False):
    """A job attempt's offline W&B run in `run_dir` that logs a loss at each of `steps`."""
    job_run = start_run(OmegaConf.create(LOGGER), config={"lr": 1.0}, run_dir=run_dir,
                        name="job", group=None, tags=[], resume=resume)
    for step in steps:
        job_run.log({"train/loss": 1.0 / step}, step)
    job_run.run.finish()
    wandb.teardown()  # W&B's service writes the run's log after finish() returns
    return job_run


def test_the_last_written_step_is_read_from_the_run_s_log_also_when_cut_off(tmp_path):
    offline_attempt(tmp_path, range(1, 8))
    (attempt,) = (tmp_path / "wandb").glob("offline-run-*")
    assert last_written_step([attempt]) == 7
    (log,) = attempt.glob("*.wandb")
    cut = tmp_path / "cut" / attempt.name
    cut.mkdir(parents=True)
    shutil.copy(log, cut)
    data = log.read_bytes()
    (cut / log.name).write_bytes(data[:len(data) * 2 // 3])  # a kill while writing
    assert 0 < last_written_step([cut]) < 7
    assert last_written_step([tmp_path / "missing"]) == 0


def test_a_resumed_run_continues_from_the_step_its_history_holds_not_from_its_record(
        tmp_path, caplog):
    offline_attempt(tmp_path, [1, 2, 3])
    record = tmp_path / "wandb_run.json"
    record.write_text(record.read_text().replace('"last_step": 3', '"last_step": 1000000'))
    with caplog.at_level(logging.INFO, logger="qa_experiments.tracking.wandb_run"):
        resumed = offline_attempt(tmp_path, [3, 4], resume=True)  # 3: already in the run
    assert resumed.floor == 3
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "holds steps up to 3, not 1000000" in warning
    first, second = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert (last_written_step([first]), last_written_step([second])) == (3, 4)
