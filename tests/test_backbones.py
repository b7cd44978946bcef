"""The seven backbone families in one sweep: `qa-train -m model=tiny_...` trains each tiny
offline twin for a few steps and `qa-compare` tabulates them all."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForQuestionAnswering

from helpers import ShiftedOffsets, compose_config
from qa_experiments.compare import main as compare_main
from qa_experiments.config.schema import ConfigError
from qa_experiments.data.squad_files import DataError
from qa_experiments.lifecycle.job import train
from qa_experiments.model.loading import load_model
from qa_experiments.model.lora import head_modules
from qa_experiments.model.tiny_models import cached_tiny_model as tiny_model_path

FAMILIES = ("tiny_bert", "tiny_distilbert", "tiny_roberta", "tiny_deberta_v3", "tiny_modernbert",
            "tiny_xlm_roberta", "tiny_electra")
NEW_FAMILIES = FAMILIES[3:]


def sweep(sweep_dir, models):
    """`qa-train -m debug=default model=...` (3 steps of 4 windows each) into `sweep_dir`."""
    return subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "-m", "debug=default",
         f"model={','.join(models)}", f"hydra.sweep.dir={sweep_dir}"],
        capture_output=True, text=True, timeout=900,
    )


@pytest.mark.slow
def test_sweep_over_the_seven_families(tmp_path, capsys):
    done = sweep(tmp_path / "sweep", FAMILIES)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = sorted((p for p in (tmp_path / "sweep").iterdir() if p.is_dir()), key=lambda p: p.name)
    names = {json.loads((job / "config.json").read_text())["model"]["name"] for job in jobs}
    assert names == set(FAMILIES)
    for job in jobs:
        assert json.loads((job / "status.json").read_text())["status"] == "finished", job

    assert compare_main([str(tmp_path / "sweep")]) == 0
    table = capsys.readouterr().out
    assert sum(" finished " in line for line in table.splitlines()) == len(FAMILIES)
    assert all(family in table for family in FAMILIES)


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_each_new_family_trains_and_answers(tmp_path, family):
    """The fast smoke test of one family: the real train task, in-process, finishes with an
    answer for each eval question."""
    run_dir = tmp_path / "run"
    train(compose_config(["debug=default", f"model={family}"], run_dir))
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    assert len(json.loads((run_dir / "predictions.json").read_text())) == 8  # debug's questions
    results = json.loads((run_dir / "results.json").read_text())
    assert results["model"].endswith(family.removeprefix("tiny_"))


def test_a_tokenizer_with_broken_offsets_stops_the_run_before_training(tmp_path, monkeypatch):
    from qa_experiments.training import experiment

    load = experiment.load_tokenizer
    monkeypatch.setattr(experiment, "load_tokenizer", lambda cfg: ShiftedOffsets(load(cfg)))
    trained = []
    monkeypatch.setattr(experiment.QATrainer, "train", lambda *a, **k: trained.append(1))
    run_dir = tmp_path / "run"
    with pytest.raises(DataError, match=r"misaligned|maps \d+ of 16 training answers"):
        train(compose_config(["debug=default", "data.cache_features=false"], run_dir))
    assert not trained
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "training answers" in json.dumps(status)


def test_a_lora_target_the_model_lacks_is_refused_before_any_data_work(tmp_path, monkeypatch):
    """It was found only when LoRA was added, after the data had been read and tokenized."""
    from qa_experiments.training import experiment

    read = []
    monkeypatch.setattr(experiment, "load_split", lambda *a: read.append(a))
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"target_modules=\['Wqkv', 'query'\]: query is not "
                                          r"a module of modernbert"):
        train(compose_config(["debug=default", "model=tiny_modernbert", "model.lora.enabled=true",
                              "model.lora.target_modules=[Wqkv,query]"], run_dir))
    assert not read
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "query is not a module" in json.dumps(status)


def lora_family(family):
    """ModernBERT (the family whose head PEFT's QA task type misses) in the default suite."""
    return family if family == "tiny_modernbert" else pytest.param(family, marks=pytest.mark.slow)


@pytest.mark.parametrize("family", [lora_family(f) for f in FAMILIES])
def test_a_lora_run_trains_the_head_and_saves_a_plain_merged_model(tmp_path, family):
    run_dir = tmp_path / "run"
    train(compose_config(["debug=default", f"model={family}", "model.lora.enabled=true",
                          "optimizer.lr=1e-2"], run_dir))
    results = json.loads((run_dir / "results.json").read_text())
    assert 0 < results["trainable_share"] < 0.2
    assert "LoRA (rank 8" in (run_dir / "model" / "README.md").read_text()
    assert not (run_dir / "model" / "adapter_config.json").exists()

    initial = AutoModelForQuestionAnswering.from_pretrained(tiny_model_path(family[5:]))
    final = load_model(OmegaConf.create({"name_or_path": str(run_dir / "model"), "revision": None,
                                         "trust_remote_code": False,
                                         "attn_implementation": None}), trained=True)
    before, after = initial.state_dict(), final.state_dict()
    assert before.keys() == after.keys()  # a plain model of the family, no adapter names
    heads = [k for k in before if k.split(".")[0] in head_modules(initial)]
    assert heads and all(not torch.equal(before[k], after[k]) for k in heads if "weight" in k)
