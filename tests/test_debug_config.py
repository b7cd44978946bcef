"""debug=default: a run shrunk to seconds (tiny model, tiny data, a few steps, no tracker) that
still goes through qa-train end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import compose_config
from qa_experiments.config.schema import validate_config


def test_debug_composes_small_and_wins_over_an_experiment():
    for overrides in (["debug=default"], ["experiment=reference", "debug=default"]):
        cfg = compose_config(overrides)
        validate_config(cfg)
        assert (cfg.model.name, cfg.hardware.device) == ("tiny_bert", "cpu")
        assert all(tracker is None for tracker in cfg.logger.values())  # logger=none
        assert cfg.trainer.max_steps == 3
        assert (cfg.data.max_train_samples, cfg.data.max_eval_samples) == (16, 8)


@pytest.mark.slow
def test_qa_train_debug_runs_offline(tmp_path):
    """The real entry point in a fresh process: it registers the schema and resolvers itself."""
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "qa_experiments.train", "debug=default",
                           f"hydra.run.dir={run_dir}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["train_steps"] == 3
