"""Distillation end to end (distill=logits): the real train task on tiny models, the teacher
being the session's tiny_run (a finished tiny BERT run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForQuestionAnswering

from helpers import FAST, kill_and_resume, run_train, search, trials_table, wandb_history
from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.model.tiny_models import cached_tiny_model


def distill(teacher) -> list[str]:
    return ["model=tiny_bert", "distill=logits", f"distill.teacher={teacher}"]


def test_distilled_runs_record_their_teacher_and_share_one_teacher_pass(
        tmp_path, tiny_run, caplog):
    caplog.set_level("INFO", logger="qa_experiments.training.distillation")
    teacher_f1 = json.loads((tiny_run / "results.json").read_text())["f1"]
    run_train(tmp_path, "first", distill(tiny_run) + ["distill.temperature=1.0"])
    run_train(tmp_path, "second", distill(tiny_run) + ["distill.alpha=0.9", "seed=7"])
    messages = [record.getMessage() for record in caplog.records]
    assert sum("Teacher pass" in m for m in messages) == 1, messages
    assert sum("Reusing cached teacher logits" in m for m in messages) == 1, messages

    results = json.loads((tmp_path / "second" / "results.json").read_text())
    assert results["distillation"] == {
        "method": "logits", "teacher": str(tiny_run), "teacher_f1": teacher_f1,
        "temperature": 2.0, "alpha": 0.9}
    card = (tmp_path / "second" / "model" / "README.md").read_text()
    assert f"from the teacher `{tiny_run}`" in card and "soft-loss weight 0.9" in card
    # the student is a plain model: it loads and answers as any run
    AutoModelForQuestionAnswering.from_pretrained(tmp_path / "second" / "model")
    answerer = QuestionAnswerer.load(tmp_path / "second")
    assert answerer.answer("Who?", "Ada wrote the notes.") is not None


def train_cli(tmp_path, *overrides):
    return subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *FAST, *overrides,
         f"hydra.run.dir={tmp_path / 'student'}"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )


def refusal(done) -> str:
    """The one line of a refused run, which never reached the teacher pass or training."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("qa-train: error: "), line
    return line


@pytest.mark.slow
def test_a_teacher_the_student_cannot_learn_from_is_one_line_before_training(
        tmp_path, tiny_run):
    cached_tiny_model("roberta")  # built here: its progress bars are not the refusal's output
    vocabulary = refusal(train_cli(tmp_path, "model=tiny_roberta", "distill=logits",
                                   f"distill.teacher={tiny_run}"))
    assert "different tokenizer vocabularies" in vocabulary and str(tiny_run) in vocabulary
    assert "tiny_roberta" in vocabulary or "roberta" in vocabulary

    windows = refusal(train_cli(tmp_path, *distill(tiny_run), "data.max_seq_length=120"))
    assert "data.max_seq_length=128" in windows and "data.max_seq_length=120" in windows

    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "status.json").write_text(json.dumps({"status": "running"}))
    assert "has not finished" in refusal(train_cli(tmp_path, *distill(unfinished)))

    missing = refusal(train_cli(tmp_path, *distill("nobody/no-such-teacher")))
    assert "nobody/no-such-teacher" in missing

    exported = tmp_path / "onnx"  # a real qa-export of the teacher run: it can only answer
    done = subprocess.run([sys.executable, "-m", "qa_experiments.export", str(tiny_run),
                           "--out", str(exported)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    onnx = refusal(train_cli(tmp_path, *distill(exported)))
    assert f"distill.teacher='{exported}' is an ONNX export (qa-export)" in onnx
    assert "a teacher must be a PyTorch model" in onnx
    assert not (tmp_path / "student" / "checkpoints").exists()
    assert "Teacher pass" not in (tmp_path / "student" / "train.log").read_text()


def test_distill_without_a_teacher_is_refused(tmp_path):
    from qa_experiments.config.schema import ConfigError

    with pytest.raises(ConfigError, match="distill.teacher"):
        run_train(tmp_path, "no_teacher", ["model=tiny_bert", "distill=logits"])


@pytest.mark.slow
def test_a_killed_distilled_run_resumes_to_the_weights_of_one_never_stopped(tmp_path, tiny_run):
    kill_and_resume(tmp_path, *distill(tiny_run)[1:])
    weights = [load_file(tmp_path / run / "model" / "model.safetensors")
               for run in ("uninterrupted", "killed")]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert results["distillation"]["teacher"] == str(tiny_run)


@pytest.mark.slow
def test_an_optuna_search_over_temperature_and_weight_logs_both_losses_to_wandb(
        tmp_path, tiny_run):
    """Two trials over distill.temperature and distill.alpha, each a finished distilled run
    with its trial's values; the teacher runs at most once; W&B gets the soft (distillation)
    and hard (SQuAD) loss at every logged step, which mix into the loss the Trainer logs."""
    sweep = search(tmp_path, "hydra.sweeper.n_trials=2", *distill(tiny_run)[1:],
                   "distill.temperature=interval(1.0,4.0)", "distill.alpha=interval(0.1,0.9)",
                   "trainer.max_steps=3", "logger=wandb", "logger.wandb.mode=offline")
    rows = trials_table(sweep)
    assert [row["state"] for row in rows] == ["complete", "complete"], rows
    logs = [(sweep / row["trial"] / "train.log").read_text() for row in rows]
    assert sum("Teacher pass" in log for log in logs) <= 1
    assert "Reusing cached teacher logits" in logs[1]
    for row in rows:
        job = sweep / row["trial"]
        temperature, alpha = float(row["distill.temperature"]), float(row["distill.alpha"])
        assert 1.0 <= temperature <= 4.0 and 0.1 <= alpha <= 0.9
        record = json.loads((job / "results.json").read_text())["distillation"]
        assert (record["temperature"], record["alpha"]) == (pytest.approx(temperature),
                                                           pytest.approx(alpha))
        loss, soft, hard = (wandb_history(job, f"train/{key}")
                            for key in ("loss", "soft_loss", "hard_loss"))
        assert len(loss) == len(soft) == len(hard) == 3  # every step (logging_steps=1)
        for total, s, h in zip(loss, soft, hard):
            assert s > 0 and h > 0
            assert total == pytest.approx(alpha * s + (1 - alpha) * h, rel=1e-3)
    assert len({row["distill.alpha"] for row in rows}) == 2  # two draws, not one value twice
