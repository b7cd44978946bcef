"""Every surface with every new family: a tiny DeBERTa-v3, ModernBERT, XLM-R and ELECTRA run
answers through qa-evaluate (the run's own answers again), qa-predict, QuestionAnswerer and
an ONNX export (fp32: the same answers; int8: spans of the context), and has a model card."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import compose_config
from qa_experiments import predict
from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.predictor import evaluate_file, load_run
from qa_experiments.lifecycle.job import train

FAMILIES = ("tiny_deberta_v3", "tiny_modernbert", "tiny_xlm_roberta", "tiny_electra")
QUESTION = "Who wrote the book?"
CONTEXT = "The book was written by Jane Austen in 1813 and published in London."


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_surface_answers_with_the_family(tmp_path, family, capsys):
    run_dir = tmp_path / "run"
    train(compose_config(["debug=default", f"model={family}", "optimizer.lr=3e-3"], run_dir))
    config = json.loads((run_dir / "config.json").read_text())
    trained = json.loads((run_dir / "predictions.json").read_text())
    assert f"Fine-tuned from `{family}`" in (run_dir / "model" / "README.md").read_text()

    eval_file, questions = config["data"]["eval_file"], config["data"]["max_eval_samples"]
    _, records = evaluate_file(load_run(run_dir), eval_file, max_samples=questions)
    assert [r["prediction"] for r in records] == list(trained.values())  # qa-evaluate

    with QuestionAnswerer(load_run(run_dir)) as answerer:
        answer = answerer.answer(QUESTION, CONTEXT, top_k=2)
    assert answer.text == CONTEXT[answer.start:answer.end] and answer.text
    capsys.readouterr()
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", CONTEXT]) == 0
    assert capsys.readouterr().out.strip() == answer.text

    exported = tmp_path / "onnx"
    done = subprocess.run([sys.executable, "-m", "qa_experiments.export", str(run_dir),
                           "--quantize", "int8", "--out", str(exported)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _, onnx_records = evaluate_file(load_run(exported, precision="fp32"), eval_file,
                                    max_samples=questions)
    assert [r["prediction"] for r in onnx_records] == list(trained.values())
    with QuestionAnswerer.load(exported) as int8:
        assert int8.run.model.path.name == "model.int8.onnx"
        answer = int8.answer(QUESTION, CONTEXT)
    assert answer.text == CONTEXT[answer.start:answer.end]
