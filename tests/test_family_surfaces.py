"""Every surface with every new family: a tiny DeBERTa-v3, ModernBERT, XLM-R and ELECTRA run on
SQuAD v2 answers through qa-evaluate (the run's own answers again), qa-predict, QuestionAnswerer,
qa-serve (a real server process, over HTTP) and an ONNX export (fp32: the same answers; int8:
spans of the context); it has a model card, a calibration and a tuned no-answer threshold that
the answering surfaces use; and a killed DeBERTa-v3 run (the family whose Unigram tokenizer and
relative positions differ most from BERT's) resumes to the results of one never stopped."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from serve_process import post
from serve_process import start as serve

from helpers import FAST, compose_config, kill_and_resume
from qa_experiments import predict
from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.predictor import evaluate_file, load_run
from qa_experiments.lifecycle.job import train

FAMILIES = ("tiny_deberta_v3", "tiny_modernbert", "tiny_xlm_roberta", "tiny_electra")
QUESTION = "Who wrote the book?"
CONTEXT = "The book was written by Jane Austen in 1813 and published in London."
NEVER_ABSTAIN = 1e9  # a no-answer threshold no score difference reaches


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_surface_answers_with_the_family(tmp_path, family, capsys):
    run_dir = tmp_path / "run"
    # SQuAD v2 with enough eval questions (60) for the calibration and the threshold to be fitted
    train(compose_config(FAST + [f"model={family}", "optimizer.lr=3e-3", "data=sample_v2",
                                 "data.max_eval_samples=60"], run_dir))
    config = json.loads((run_dir / "config.json").read_text())
    trained = json.loads((run_dir / "predictions.json").read_text())
    assert f"Fine-tuned from `{family}`" in (run_dir / "model" / "README.md").read_text()

    eval_file, questions = config["data"]["eval_file"], config["data"]["max_eval_samples"]
    _, records = evaluate_file(load_run(run_dir), eval_file, max_samples=questions)
    assert [r["prediction"] for r in records] == list(trained.values())  # qa-evaluate

    # NEVER_ABSTAIN: a span answer, whose offsets are checked (the tiny models abstain a lot)
    with QuestionAnswerer(load_run(run_dir, null_threshold=NEVER_ABSTAIN)) as answerer:
        answer = answerer.answer(QUESTION, CONTEXT, top_k=2)
    assert answer.text == CONTEXT[answer.start:answer.end] and answer.text
    capsys.readouterr()
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", CONTEXT,
                         "--null-threshold", str(NEVER_ABSTAIN)]) == 0
    assert capsys.readouterr().out.strip() == answer.text

    check_calibration_and_threshold(run_dir, capsys)
    check_served(run_dir)

    exported = tmp_path / "onnx"
    done = subprocess.run([sys.executable, "-m", "qa_experiments.export", str(run_dir),
                           "--quantize", "int8", "--out", str(exported)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _, onnx_records = evaluate_file(load_run(exported, precision="fp32"), eval_file,
                                    max_samples=questions)
    assert [r["prediction"] for r in onnx_records] == list(trained.values())
    with QuestionAnswerer.load(exported, null_threshold=NEVER_ABSTAIN) as int8:
        assert int8.run.model.path.name == "model.int8.onnx"
        answer = int8.answer(QUESTION, CONTEXT)
    assert answer.text == CONTEXT[answer.start:answer.end] and answer.text


def check_calibration_and_threshold(run_dir, capsys):
    """The run fitted a confidence calibration and a no-answer threshold and stored both with
    the model; `auto` answers with that threshold, and every answer has a confidence."""
    results = json.loads((run_dir / "results.json").read_text())
    stored = json.loads((run_dir / "model" / "calibration.json").read_text())
    assert "skipped" not in results["calibration"], results["calibration"]
    assert 0 <= results["calibration"]["ece_after"] <= 1
    assert stored["confidence"] == {**results["calibration"]["stored"], "questions": 60}
    tuned = results["no_answer_threshold"]["tuned_threshold"]
    assert stored["null_score_diff_threshold"] == tuned
    with QuestionAnswerer.load(run_dir, null_threshold="auto") as answerer:
        assert answerer.calibrated and answerer.version_2
        assert answerer.run.data_cfg.null_score_diff_threshold == tuned
        answer = answerer.answer(QUESTION, CONTEXT)
    assert 0 <= answer.confidence <= 1
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", CONTEXT, "--json",
                         "--null-threshold", "auto"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == answer.text


def check_served(run_dir):
    """qa-serve answers one request over HTTP as the Python API answers, with a confidence."""
    process, url = serve(run_dir)
    try:
        status, body = post(url, {"question": QUESTION, "context": CONTEXT, "top_k": 2})
    finally:
        process.terminate()
        process.wait(timeout=30)
    with QuestionAnswerer.load(run_dir) as answerer:
        expected = answerer.answer(QUESTION, CONTEXT, top_k=2).to_dict()
    assert status == 200 and body["answer"] == expected
    assert 0 <= body["answer"]["confidence"] <= 1


@pytest.mark.slow
def test_a_killed_deberta_v3_run_resumes_to_the_results_of_one_never_stopped(tmp_path):
    kill_and_resume(tmp_path, "model=tiny_deberta_v3")
    for run in ("uninterrupted", "killed"):
        config = json.loads((tmp_path / run / "config.json").read_text())
        assert config["model"]["name"] == "tiny_deberta_v3"
