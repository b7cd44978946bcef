"""The checks behind trustworthy runs, one by one: usable checkpoints, finite training,
what makes a job another job, atomic writes and the one-line model load report."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file, save_file

from helpers import FAST, compose_config
from qa_experiments.config.paths import minilm_path
from qa_experiments.model.checkpoints import last_checkpoint
from qa_experiments.model.loading import load_model
from qa_experiments.model.tiny_models import cached_tiny_model as tiny_model_path
from qa_experiments.runs import atomic as results
from qa_experiments.runs.claim import job_differences
from qa_experiments.train import train
from qa_experiments.training.finite_guard import FiniteGuard, NonFiniteError
from qa_experiments.training.trainer import QATrainer


def make_checkpoint(output_dir: Path, step: int, state: str | None = None) -> Path:
    checkpoint = output_dir / f"checkpoint-{step}"
    checkpoint.mkdir(parents=True)
    save_file({"w": torch.ones(64, 64)}, checkpoint / "model.safetensors")
    for name in ("optimizer.pt", "scheduler.pt"):
        (checkpoint / name).write_bytes(b"state")
    (checkpoint / "trainer_state.json").write_text(
        json.dumps({"global_step": step}) if state is None else state)
    return checkpoint


@pytest.mark.parametrize("damage", ["empty state", "unreadable state", "state without step",
                                    "truncated weights", "no optimizer", "no weights"])
def test_resume_falls_back_to_the_newest_complete_readable_checkpoint(tmp_path, damage):
    good = make_checkpoint(tmp_path, 20)
    newest = make_checkpoint(tmp_path, 30)
    make_checkpoint(tmp_path, 5)
    weights = newest / "model.safetensors"
    {
        "empty state": lambda: (newest / "trainer_state.json").write_text(""),
        "unreadable state": lambda: (newest / "trainer_state.json").write_bytes(b"\xff{"),
        "state without step": lambda: (newest / "trainer_state.json").write_text("[]"),
        "truncated weights": lambda: weights.write_bytes(weights.read_bytes()[:1000]),
        "no optimizer": lambda: (newest / "optimizer.pt").unlink(),
        "no weights": lambda: weights.unlink(),
    }[damage]()
    assert last_checkpoint(tmp_path) == str(good)


def test_no_usable_checkpoint_means_none(tmp_path):
    make_checkpoint(tmp_path, 10, state="")
    assert last_checkpoint(tmp_path) is None and last_checkpoint(tmp_path / "absent") is None


class State:
    global_step, max_steps = 7, 100


class Control:
    should_save = True


def test_finite_guard_stops_at_a_non_finite_loss_naming_the_last_checked_checkpoint():
    guard = FiniteGuard(resumed_from="run/checkpoints/checkpoint-5")
    guard.on_training_step(1.5, 8, State())
    with pytest.raises(NonFiniteError, match=r"\(loss=nan\) at step 8; the last good checkpoint "
                                             "is run/checkpoints/checkpoint-5"):
        guard.on_training_step(math.nan, 8, State())
    guard.on_save(OmegaConf.create({"output_dir": "out"}), State(), Control())
    with pytest.raises(NonFiniteError, match=r"out/checkpoint-7\."):
        guard.on_training_step(math.inf, 8, State())


def test_finite_guard_checks_the_weights_before_a_save():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    guard = FiniteGuard()
    guard.on_step_end(None, State(), Control(), model=model)  # finite: passes
    with torch.no_grad():
        model[1].weight[0, 0] = math.nan
    with pytest.raises(NonFiniteError, match=r"weights went non-finite \(1\.weight\).*none"):
        guard.on_step_end(None, State(), Control(), model=model)
    not_saving = type("Control", (), {"should_save": False})()
    guard.on_step_end(None, State(), not_saving, model=model)  # no save, not the end: no cost
    resumed = FiniteGuard(resumed_from="out/checkpoint-5")
    with pytest.raises(NonFiniteError, match="checkpoint-5 holds non-finite weights"):
        resumed.on_train_begin(None, State(), Control(), model=model)
    assert resumed.last_good is None


def test_job_differences_name_changed_overrides_then_resolved_settings():
    config = {"optimizer": {"lr": 5e-5}, "resume": False, "logger": {"mode": "auto"}}
    assert job_differences(["a=1"], ["a=1", "resume=true", "logger.mode=offline"], config,
                           {**config, "resume": True, "logger": {"mode": "offline"}}) == ""
    assert job_differences(["a=1", "b=2"], ["a=3", "c=4"], config, config) == (
        "a=3 (was: 1); b=default (was: 2); c=4 (was: default)")
    assert job_differences(["a=1"], ["a=1"], config, {**config, "optimizer": {"lr": 1e-3}}) == (
        "optimizer.lr=0.001 (was: 5e-05)")


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


def model_cfg(path) -> OmegaConf:
    return OmegaConf.create({"name_or_path": str(path), "revision": "main",
                             "trust_remote_code": False, "attn_implementation": "sdpa"})


def test_a_new_qa_head_is_one_line_not_a_load_report(caplog, capfd):
    with caplog.at_level(logging.INFO, logger="qa_experiments.model.loading"):
        load_model(model_cfg(minilm_path()))
    assert [r.getMessage() for r in caplog.records] == [
        "New question-answering head (qa_outputs) initialised from the seed, as fine-tuning a "
        "pretrained backbone expects."]
    assert "LOAD REPORT" not in capfd.readouterr().err


def test_missing_backbone_weights_still_warn(tmp_path, caplog):
    source = Path(tiny_model_path("bert"))
    weights = load_file(source / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "layer.0." not in k},
              tmp_path / "model.safetensors", metadata={"format": "pt"})
    (tmp_path / "config.json").write_text((source / "config.json").read_text())
    with caplog.at_level(logging.INFO, logger="qa_experiments.model.loading"):
        load_model(model_cfg(tmp_path))
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "backbone weight(s), now random: bert.encoder.layer.0." in warning.getMessage()


def test_weights_are_checked_before_every_save_of_a_real_run(tmp_path, monkeypatch):
    checked, saved = [], set()
    original_check, original_save = FiniteGuard.check_weights, QATrainer._save_checkpoint

    def recording_check(self, model, step):
        checked.append(step)
        original_check(self, model, step)

    def recording_save(self, *args, **kwargs):
        saved.add(self.state.global_step)
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(FiniteGuard, "check_weights", recording_check)
    monkeypatch.setattr(QATrainer, "_save_checkpoint", recording_save)
    run_dir = tmp_path / "run"
    train(compose_config(FAST + ["model=tiny_bert", "trainer.save_steps=3",
                                 "trainer.save_total_limit=null"], run_dir))
    steps = json.loads((run_dir / "results.json").read_text())["train_steps"]
    assert saved and saved | {steps} == set(checked)


def test_every_json_file_written_is_strict_json(tmp_path):
    """A NaN or infinity is written as null (unknown), never as Python's bare NaN, which
    strict parsers (JavaScript's JSON.parse, jq) reject."""
    path = results.write_json(tmp_path / "r.json", {"f1": float("nan"), "runtime": 1.5,
                                                   "nested": [float("inf"), {"x": -float("inf")}]})

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    assert json.loads(path.read_text(), parse_constant=refuse) == {
        "f1": None, "runtime": 1.5, "nested": [None, {"x": None}]}
