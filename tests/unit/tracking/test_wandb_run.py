"""How long a W&B start may wait before the job ends with one line (wandb.init faked)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import wandb

from qa_experiments.tracking.wandb_run import INIT_TIMEOUT_S, TrackingError, start_run


@pytest.mark.parametrize("environ, waits",
                         [({}, INIT_TIMEOUT_S), ({"WANDB_INIT_TIMEOUT": "7"}, 7.0)])
def test_a_w_and_b_start_that_times_out_ends_the_job_after_the_set_wait(
        tmp_path, monkeypatch, environ, waits):
    """wandb waits 90 s (plus retries) by default; the job gives it INIT_TIMEOUT_S, or what
    WANDB_INIT_TIMEOUT says, and then ends with one line that names the wait."""
    given = []

    def init(**kwargs):
        given.append(kwargs["settings"].init_timeout)
        raise wandb.errors.CommError("Run initialization has timed out")

    monkeypatch.setattr(wandb, "init", init)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    logger = SimpleNamespace(name="wandb", mode="online", project="p", entity=None, group=None,
                             tags=[])
    with pytest.raises(TrackingError, match=f"timed out after {waits:.0f} s; WANDB_INIT_TIMEOUT"):
        start_run(logger, config={}, run_dir=tmp_path, name="job", group=None, tags=[])
    assert given == [waits] and waits < 90
