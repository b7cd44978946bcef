"""qa-export: an ONNX export (fp32 and int8) answers through the same windows and decoding as
the PyTorch model, from the Python API and from the command lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.predictor import evaluate_file, load_run


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "onnx"
    done = subprocess.run([sys.executable, "-m", "qa_experiments.export", str(tiny_run),
                           "--quantize", "int8", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "model.onnx").is_file() and (out / "model.int8.onnx").is_file()
    return out


def eval_file(run_dir) -> str:
    return json.loads((run_dir / "config.json").read_text())["data"]["eval_file"]


def test_onnx_fp32_answers_exactly_as_pytorch(tiny_run, exported):
    torch_results, torch_records = evaluate_file(load_run(tiny_run), eval_file(tiny_run),
                                                 max_samples=12)
    onnx_results, onnx_records = evaluate_file(load_run(exported, precision="fp32"),
                                               eval_file(tiny_run), max_samples=12)
    assert [r["prediction"] for r in onnx_records] == [r["prediction"] for r in torch_records]
    assert [r["answer_start_char"] for r in onnx_records] == [
        r["answer_start_char"] for r in torch_records]
    for onnx, torch_record in zip(onnx_records, torch_records):
        assert onnx["probability"] == pytest.approx(torch_record["probability"], abs=1e-4)
    assert onnx_results["f1"] == pytest.approx(torch_results["f1"])


def test_onnx_int8_loads_and_answers_spans_of_the_context(exported):
    context = "The book was written by Jane Austen in 1813 and published in London."
    with QuestionAnswerer.load(exported) as answerer:  # int8: the default when exported
        assert answerer.run.model.path.name == "model.int8.onnx"
        answer = answerer.answer("Who wrote the book?", context, top_k=2)
    assert answer.text == context[answer.start:answer.end] and len(answer.alternatives) == 2


def test_qa_predict_answers_with_an_export_directory(tiny_run, exported):
    question, context = "Who wrote the book?", "The book was written by Jane Austen in 1813."
    done = subprocess.run([sys.executable, "-m", "qa_experiments.predict", str(exported), "-q",
                           question, "-c", context], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with QuestionAnswerer.load(exported) as answerer:
        assert done.stdout.strip() == answerer.answer(question, context).text


def export_untrained(architecture: str, out, quantize: str | None = None) -> list:
    """Export a tiny random model of `architecture` (no run: its tokenizer, model and the
    default data settings); the op types of each written graph."""
    import onnx
    from omegaconf import OmegaConf
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa_experiments.config.schema import DataConfig
    from qa_experiments.inference.onnx_backend import export_onnx
    from qa_experiments.model.tiny_models import cached_tiny_model

    path = Path(cached_tiny_model(architecture))
    run = SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(path),
                          model=AutoModelForQuestionAnswering.from_pretrained(path).eval(),
                          model_dir=path, eval_batch_size=8,
                          data_cfg=OmegaConf.structured(DataConfig(name="check")))
    written = export_onnx(run, out, quantize=quantize)
    return run, [{node.op_type for node in onnx.load(str(file)).graph.node} for file in written]


@pytest.mark.parametrize("architecture", ["bert", "roberta", "distilbert"])
def test_bert_family_exports_are_fused_and_give_pytorchs_logits(architecture, tmp_path):
    import numpy as np
    import torch

    from qa_experiments.inference.onnx_backend import CHECK_PAIRS, OnnxModel

    run, (fp32_ops, int8_ops) = export_untrained(architecture, tmp_path, quantize="int8")
    assert "Attention" in fp32_ops and "SkipLayerNormalization" in fp32_ops
    assert "QAttention" in int8_ops and "MatMulInteger" in int8_ops
    pairs = ([q * 3 for q in CHECK_PAIRS[0]], [c[::-1] for c in CHECK_PAIRS[1]])  # not the check
    batch = run.tokenizer(*pairs, padding=True, return_tensors="pt")
    names = run.tokenizer.model_input_names
    with torch.no_grad():
        expected = run.model(**{n: batch[n] for n in names})
    session = OnnxModel(tmp_path / "model.onnx", names, 8, 0).session
    start, end = session.run(None, {n: batch[n].numpy() for n in names})
    real = batch["attention_mask"].numpy().astype(bool)
    assert np.abs(start - expected.start_logits.numpy())[real].max() < 1e-4
    assert np.abs(end - expected.end_logits.numpy())[real].max() < 1e-4


def test_a_fused_graph_whose_logits_differ_is_not_kept(tmp_path, monkeypatch):
    from qa_experiments.inference import onnx_backend

    monkeypatch.setattr(onnx_backend, "FUSION_TOLERANCE", -1.0)  # any difference is too much
    _, (fp32_ops,) = export_untrained("bert", tmp_path)
    assert "Attention" not in fp32_ops and "MatMul" in fp32_ops and "Softmax" in fp32_ops
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["model.onnx"]
