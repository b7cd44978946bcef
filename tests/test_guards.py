"""The one-line model load report and the weight check before every save of a real run (the
fast checks behind trustworthy runs are in tests/unit/model, runs and training)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import OmegaConf
from safetensors.torch import load_file, save_file

from helpers import FAST, compose_config
from qa_experiments.config.paths import minilm_path
from qa_experiments.model.loading import load_model
from qa_experiments.model.tiny_models import cached_tiny_model as tiny_model_path
from qa_experiments.train import train
from qa_experiments.training.finite_guard import FiniteGuard
from qa_experiments.training.trainer import QATrainer


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


