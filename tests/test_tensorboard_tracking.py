"""`logger=tensorboard`: the job's event files in its run directory, read back with
TensorBoard's own reader; a resumed job continues its own files with each step once."""

from __future__ import annotations

import json

import pytest

from helpers import kill_and_resume, run_train, scalar_steps, tensorboard_events
from qa_experiments.tracking.tracker import summary_metrics


def test_a_job_writes_its_rows_final_figures_and_report_charts_as_tensorboard_events(tmp_path):
    _, run_dir = run_train(tmp_path, "run", ["debug=default", "logger=tensorboard"])
    reader = tensorboard_events(run_dir)
    assert scalar_steps(reader, "train/loss") == [1, 2, 3]  # each optimizer step once
    results = json.loads((run_dir / "results.json").read_text())
    for tag, value in summary_metrics(results).items():
        (final,) = reader.Scalars(tag)
        assert (final.step, final.value) == (3, pytest.approx(value)), tag
    assert {"report/slices", "report/reliability"} <= set(reader.Tags()["images"])
    assert len(list((run_dir / "tensorboard").iterdir())) == 1  # one event file per attempt


@pytest.mark.slow
def test_a_killed_and_resumed_job_continues_its_own_events_with_each_step_once(tmp_path):
    kill_and_resume(tmp_path, "logger=tensorboard")
    killed, uninterrupted = (tensorboard_events(tmp_path / d) for d in ("killed", "uninterrupted"))
    assert scalar_steps(killed, "train/loss") == scalar_steps(uninterrupted, "train/loss")
    assert len(list((tmp_path / "killed" / "tensorboard").iterdir())) == 2  # both attempts
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert killed.Scalars("eval/f1")[-1].value == pytest.approx(results["f1"])
