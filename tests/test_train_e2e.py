"""End to end: the real train task on tiny bert / distilbert / roberta backbones."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from huggingface_hub import ModelCard
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from helpers import (
    assert_scores_match_predictions,
    assert_training_rate_matches,
    compiled_run,
    find_key,
    run_train,
)
from qa_experiments.data.splits import read_squad_file
from qa_experiments.model.tiny_models import cached_tiny_model as tiny_model_path

RESULT_KEYS = {
    "exact_match", "f1", "train_runtime", "train_samples_per_second", "eval_runtime",
    "preprocess_seconds", "train_examples", "train_features", "eval_examples", "eval_features",
    "data_report", "world_size", "train_tokens_per_second", "peak_memory_mb", "precision",
}


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_train_and_evaluate_each_backbone(tmp_path, arch, caplog):
    caplog.set_level(logging.INFO, logger="qa_experiments")
    f1, run_dir = run_train(tmp_path, arch, [f"model=tiny_{arch}"])
    results = json.loads((run_dir / "results.json").read_text())
    assert RESULT_KEYS <= results.keys()
    assert f1 == results["f1"]
    assert results["precision"] == "fp32"  # FAST: hardware=cpu hardware.precision=fp32
    assert "Precision: fp32 on cpu" in caplog.text  # the run's log says which precision ran
    assert_scores_match_predictions(run_dir)
    assert not (run_dir / "checkpoints").exists()  # a finished run keeps model/ only
    assert_model_card_holds_the_scores(run_dir)
    assert results["train_examples"] == 24 and results["eval_examples"] == 12
    assert results["eval_features"] >= 12 and results["train_features"] >= 24

    predictions = json.loads((run_dir / "predictions.json").read_text())
    contexts = {r["id"]: r["context"] for r in read_squad_file(
        json.loads((run_dir / "config.json").read_text())["data"]["eval_file"])}
    assert len(predictions) == 12
    assert all(answer in contexts[qid] for qid, answer in predictions.items())

    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["name_or_path"] == tiny_model_path(arch)
    model = AutoModelForQuestionAnswering.from_pretrained(run_dir / "model")
    assert model.config.model_type == arch
    assert AutoTokenizer.from_pretrained(run_dir / "model").is_fast


def test_mixed_precision_pads_to_multiples_of_8_and_evaluates(tmp_path):
    """bf16 pads batches up to a multiple of 8, past the longest window (125 tokens here)."""
    f1, run_dir = run_train(tmp_path, "bf16", [
        "model=tiny_bert", "hardware.precision=bf16", "data.max_seq_length=125"])
    results = json.loads((run_dir / "results.json").read_text())
    assert results["eval_features"] > results["eval_examples"]  # some contexts need 2 windows
    assert results["precision"] == "bf16"
    assert f1 == results["f1"] and len(json.loads((run_dir / "predictions.json").read_text())) == 12


@pytest.mark.slow
def test_same_config_gives_same_scores(tmp_path):
    overrides = ["model=tiny_bert", "trainer.num_train_epochs=2"]
    _, first = run_train(tmp_path, "first", overrides)
    _, second = run_train(tmp_path, "second", overrides)
    read = lambda d, f: json.loads((d / f).read_text())  # noqa: E731
    assert read(first, "predictions.json") == read(second, "predictions.json")
    for key in ("exact_match", "f1", "train_loss"):
        assert read(first, "results.json")[key] == read(second, "results.json")[key]


def assert_model_card_holds_the_scores(run_dir):
    """model/README.md parses as a Hugging Face model card whose model-index holds the run's
    official scores (v2: also HasAns/NoAns), and names no path of this machine."""
    results = json.loads((run_dir / "results.json").read_text())
    card = ModelCard.load(run_dir / "model" / "README.md")
    scores = {r.metric_type: r.metric_value for r in card.data.eval_results}
    expected = {key: round(results[key], 2) for key in (
        "exact_match", "f1", "HasAns_exact_match", "HasAns_f1", "NoAns_exact_match", "NoAns_f1")
        if key in results}
    assert scores == expected
    assert card.data.pipeline_tag == "question-answering" and card.data.license == "other"
    assert "/tmp" not in card.content and "CC BY-SA 4.0" in card.text


def test_squad_v2_sample_reports_has_and_no_answer(tmp_path):
    _, run_dir = run_train(tmp_path, "v2", ["model=tiny_roberta",
                                            "data=sample_v2", "data.max_eval_samples=40"])
    results = json.loads((run_dir / "results.json").read_text())
    for key in ("HasAns_exact_match", "HasAns_f1", "NoAns_exact_match", "NoAns_f1"):
        assert key in results
    assert results["HasAns_total"] + results["NoAns_total"] == 40
    assert results["NoAns_total"] == 20  # the limit keeps the held-out split's mix (50%)
    assert "not comparable to published dev-v2.0" in results["eval_note"]
    assert_model_card_holds_the_scores(run_dir)


def test_wandb_offline_run_holds_config_and_scores(tmp_path, caplog):
    with caplog.at_level("INFO", logger="qa_experiments.tracking.wandb_run"):
        _, run_dir = run_train(tmp_path, "wandb", ["model=tiny_bert",
                                                   "logger=wandb", "logger.wandb.mode=offline"])
    (wandb_run,) = (run_dir / "wandb").glob("offline-run-*")
    assert f"wandb sync {wandb_run}" in caplog.text  # the directory that syncs, not its files/
    assert f"wandb sync {wandb_run}/files" not in caplog.text
    inspected = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json", str(wandb_run)],
        capture_output=True, text=True, check=True,
    )
    state = json.loads(inspected.stdout)
    results = json.loads((run_dir / "results.json").read_text())
    text = json.dumps(state)
    assert tiny_model_path("bert") in text  # the resolved config was logged
    summary = find_key(state, "eval/f1")
    assert summary == pytest.approx(results["f1"])


def test_cli_reports_unreachable_hub_in_one_line(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "model=roberta", "logger=none",
         f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 2
    assert "FacebookAI/roberta-base" in done.stderr + done.stdout
    assert "model=minilm" in done.stderr + done.stdout


def test_cli_reports_missing_data_file(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "data=local", "logger=none",
         f"data.train_file={tmp_path}/missing.json", f"data.eval_file={tmp_path}/missing.json",
         f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    output = done.stderr + done.stdout
    assert "missing.json" in output and "does not exist" in output


@pytest.mark.slow
def test_second_run_reuses_tokenized_windows(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("QA_EXPERIMENTS_CACHE", str(tmp_path / "cache"))
    overrides = ["model=tiny_bert", "data.max_train_samples=200", "data.max_eval_samples=100"]
    run_train(tmp_path, "first", overrides)
    caplog.clear()
    with caplog.at_level("INFO", logger="qa_experiments.data.feature_cache"):
        run_train(tmp_path, "second", overrides + ["optimizer.lr=1e-3"])
    assert sum("Reusing cached" in r.message for r in caplog.records) == 2  # train and eval
    first, second = (json.loads((tmp_path / d / "results.json").read_text())
                     for d in ("first", "second"))
    assert (second["train_features"], second["eval_features"]) == (
        first["train_features"], first["eval_features"])
    run_train(tmp_path, "longer", overrides + ["data.max_seq_length=96", "data.doc_stride=32"])
    longer = json.loads((tmp_path / "longer" / "results.json").read_text())
    assert longer["train_features"] > first["train_features"]  # other windows: not reused


@pytest.mark.slow
def test_torch_compile_does_not_recompile_per_batch_length(tmp_path, monkeypatch):
    """Length-bucketed batches vary in length; dynamo must switch to a dynamic length after the
    first change instead of compiling once per length (or falling back to eager at its limit)."""
    lengths, compiles, results = compiled_run(
        tmp_path, monkeypatch,
        ["+trainer.torch_compile_backend=eager"],  # dynamo's shape handling without codegen time
    )
    assert len(lengths) >= 6, lengths
    assert 1 <= compiles <= 3  # static, dynamic length, dynamic batch size (the last batch)
    assert_training_rate_matches(results)


@pytest.mark.slow
def test_intermediate_scores_leave_training_unchanged(tmp_path):
    # The slice evaluations run inside training; they must not move the random state that
    # dropout and later batches draw from, or a reporting job trains a different model.
    _, plain = run_train(tmp_path, "plain", ["model=tiny_bert"])
    _, reported = run_train(tmp_path, "reported", [
        "model=tiny_bert", "pruning.intermediate_eval=true", "pruning.report_every=1",
        "pruning.eval_questions=4"])
    without, with_reports = (json.loads((d / "results.json").read_text())
                             for d in (plain, reported))
    scores = json.loads((reported / "intermediate.json").read_text())
    assert len(scores) == without["train_steps"] > 1 and not (plain / "intermediate.json").exists()
    assert with_reports["train_loss"] == without["train_loss"]
    assert with_reports["f1"] == without["f1"]
    plain_model = (plain / "model" / "model.safetensors").read_bytes()
    assert (reported / "model" / "model.safetensors").read_bytes() == plain_model
