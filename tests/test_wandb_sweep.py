"""qa-wandb-sweep: the Optuna preset's search space as a W&B sweep config, checked with W&B's
own schema where the `sweeps` package (wandb[sweeps]) is installed, and a job started the way a
W&B agent starts one (its run id in the environment, `${args_no_hyphens}` as overrides)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from helpers import FAST, wandb_history, wandb_state
from qa_experiments.search.wandb_sweep_config import sweep_config
from qa_experiments.wandb_sweep import main


def test_wandbs_sweep_schema_accepts_it(tmp_path, capsys):
    sweeps = pytest.importorskip("sweeps")
    for method in ("bayes", "random"):
        output = tmp_path / f"{method}.yaml"
        assert main(["--method", method, "--output", str(output)]) == 0
        config = yaml.safe_load(output.read_text())
        assert sweeps.schema_violations_from_proposed_config(config) == []
    assert "checked with W&B's sweep schema" in capsys.readouterr().out
    assert main(["x=int(interval(1, 1))", "--output", str(tmp_path / "bad.yaml")]) == 2
    assert "W&B refuses" in capsys.readouterr().out and not (tmp_path / "bad.yaml").exists()


def agent_arguments(config: dict, sampled: dict) -> list[str]:
    """`${args_no_hyphens}` as a W&B agent expands it: key=value with Python's str of each
    sampled or fixed value."""
    values = {key: spec["value"] for key, spec in config["parameters"].items() if "value" in spec}
    return [f"{key}={value}" for key, value in {**values, **sampled}.items()]


@pytest.mark.slow
def test_agent_style_job_logs_into_the_agents_run(tmp_path):
    # What `wandb agent` runs for one sampled point of the generated sweep: the command with
    # ${args_no_hyphens} expanded, and the run it created named by WANDB_RUN_ID.
    config = sweep_config(["model=tiny_bert", "pruning.report_every=1",
                           "pruning.eval_questions=4"], "bayes", min_iter=1)
    arguments = agent_arguments(config, {"optimizer.lr": 0.0003, "optimizer.warmup": 0.1})
    assert "pruning.intermediate_eval=True" in arguments
    env = {**os.environ, "WANDB_RUN_ID": "agentrun01", "WANDB_MODE": "offline"}
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *FAST, "logger=wandb", *arguments,
         f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert (config["model"]["name"], config["optimizer"]["lr"],
            config["optimizer"]["warmup"]) == ("tiny_bert", 3e-4, 0.1)
    runs = list((run / "wandb").glob("offline-run-*"))
    assert [r.name.rsplit("-", 1)[-1] for r in runs] == ["agentrun01"]  # no second run
    state = wandb_state(run)
    assert state["run_id"] == "agentrun01"

    # Hyperband's input: eval/f1 at each report on the 4-question slice, ending on the full-set F1.
    final = json.loads((run / "results.json").read_text())["f1"]
    scores = json.loads((run / "intermediate.json").read_text())
    history = wandb_history(run, "eval/f1")
    steps = json.loads((run / "results.json").read_text())["train_steps"]
    assert [s["step"] for s in scores] == list(range(1, steps + 1)) and steps > 1
    # one row per optimizer step: at the last step the full-set F1 takes the slice score's place
    assert history == pytest.approx([s["f1"] for s in scores[:-1]] + [final])
    assert state["summary"]["eval/f1"] == pytest.approx(final)


def test_an_unwritable_output_is_a_failure_like_every_command_s(tmp_path, capsys):
    """The same kind of error (exit 1, `cannot write ...`) as qa-predict's or qa-report's."""
    (tmp_path / "file").write_text("")
    assert main(["--output", str(tmp_path / "file" / "sweep.yaml")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"qa-wandb-sweep: error: cannot write {tmp_path}/file/")
