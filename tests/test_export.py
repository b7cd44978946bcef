"""qa-export: an ONNX export (fp32 and int8) answers through the same windows and decoding as
the PyTorch model, from the Python API and from the command lines."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
from transformers import AutoTokenizer

from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.int8_smoothing import smooth_for_int8
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
    for onnx_record, torch_record in zip(onnx_records, torch_records):
        assert onnx_record["probability"] == pytest.approx(torch_record["probability"], abs=1e-4)
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


def test_an_int8_answer_does_not_depend_on_the_questions_sent_with_it(exported):
    # int8 activations are quantized with a scale computed per call: in a shared batch the other
    # windows (and their padding) would change each other's scale, so each runs on its own.
    pairs = [("Who wrote the book?", "The book was written by Jane Austen in 1813."),
             ("When was it published?", "It was published in London in 1813 by Thomas "
              "Egerton, a bookseller of Whitehall, " * 4),
             ("Where?", "London.")]
    with QuestionAnswerer.load(exported) as answerer:
        together = answerer.answer_batch(pairs, top_k=3)
        alone = [answerer.answer(question, context, top_k=3) for question, context in pairs]
    for batched, single in zip(together, alone):
        assert (batched.text, batched.start, batched.probability) == (
            single.text, single.start, single.probability)
        assert [(a.text, a.probability) for a in batched.alternatives] == [
            (a.text, a.probability) for a in single.alternatives]


PAIRS = [("Who wrote the book?", "The book was written by Jane Austen in 1813."),
         ("Where was it published?", "It was published in London by Thomas Egerton.")]


def window_inputs(export_dir) -> list[dict[str, np.ndarray]]:
    tokenizer = AutoTokenizer.from_pretrained(export_dir)
    names = json.loads((export_dir / "qa_export.json").read_text())["inputs"]
    return [{name: np.asarray([tokenizer(question, context)[name]], dtype=np.int64)
             for name in names} for question, context in PAIRS]


def test_smoothing_leaves_the_fp32_model_computing_the_same_logits(exported):
    feeds = window_inputs(exported)
    model = onnx.load(str(exported / "model.onnx"))
    weights = {tensor.name for tensor in model.graph.initializer}
    assert smooth_for_int8(model, feeds) > 0
    matmuls = [node for node in model.graph.node
               if node.op_type == "MatMul" and node.input[1] in weights]
    assert matmuls and all(node.input[0].endswith("/smoothed") for node in matmuls)
    original = onnxruntime.InferenceSession(str(exported / "model.onnx"))
    smoothed = onnxruntime.InferenceSession(model.SerializeToString())
    for window in feeds:
        for before, after in zip(original.run(None, window), smoothed.run(None, window)):
            np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4)


def test_the_int8_export_is_smoothed(exported):
    nodes = onnx.load(str(exported / "model.int8.onnx")).graph.node
    assert any(node.name.endswith("/smooth") for node in nodes)


@pytest.mark.parametrize("extra,expected", [
    (["--calibration-data", "{missing}"], "--calibration-data goes with --quantize int8"),
    (["--quantize", "int8", "--calibration-data", "{missing}"], "missing.json"),
    (["--quantize", "int8", "--calibration-data", "{empty}"], "empty.json"),
])
def test_a_bad_calibration_file_is_one_line_before_the_export(tiny_run, tmp_path, extra,
                                                              expected):
    (tmp_path / "empty.json").write_text("[]")
    paths = {"missing": tmp_path / "missing.json", "empty": tmp_path / "empty.json"}
    done = subprocess.run([sys.executable, "-m", "qa_experiments.export", str(tiny_run),
                           "--out", str(tmp_path / "onnx"),
                           *[arg.format(**paths) for arg in extra]],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa-export: error: ") and expected in lines[0]
    assert not (tmp_path / "onnx").exists()
