"""Exported models: write a trained model as ONNX (optionally dynamically quantized to int8
with ONNX Runtime, after activation smoothing) and answer with it through the same windows
and decoding as PyTorch.

An export directory holds `model.onnx` (fp32, dynamic batch and sequence axes), with
`--quantize int8` also `model.int8.onnx`, the tokenizer, `calibration.json` when the run has
one, and `qa_export.json`: the run's data settings (windows, decoding, no-answer threshold),
which `predictor.load_run` reads to load the directory like a run (backend onnx). Loading
checks both against what qa-export writes (`export_settings`, `OnnxModel`): a damaged or
foreign export is an ExportError, one line, before anything is answered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from qa_experiments.data.windows import usable_cores
from qa_experiments.errors import Failure, UserError
from qa_experiments.inference.int8_smoothing import smooth_for_int8
from qa_experiments.runs.layout import CALIBRATION, EXPORT_SETTINGS

FP32_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"
PAD_LOGIT = -100.0  # what the Trainer pads predictions with; predict_logits keeps real positions
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ["start_logits", "end_logits"]
EXPORT_KEYS = ("format", "inputs", "eval_batch_size", "data", "null_score_diff_threshold")
LOGIT_TOLERANCE = 1e-3  # |ONNX fp32 - PyTorch| allowed on the check after the export


class ExportError(UserError, ValueError):
    """An export directory that is not what qa-export wrote (damaged, edited or foreign)."""


@dataclass(frozen=True)
class ExportSettings:
    """The checked contents of qa_export.json (`data`: the run's data settings, unchecked)."""

    inputs: list[str]
    eval_batch_size: int
    data: dict[str, Any]
    null_score_diff_threshold: float


class _QAWithTypes(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids)
        return out.start_logits, out.end_logits


class _QAWithoutTypes(_QAWithTypes):
    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.start_logits, out.end_logits


def export_onnx(run, out_dir: Path, *, quantize: str | None = None,
                calibration=None) -> list[Path]:
    """Write `run` (a predictor.LoadedRun with a PyTorch model) as an export directory; with
    `quantize="int8"`, `calibration` (windows: a datasets.Dataset of model inputs) sets the
    activation smoothing of the int8 model (inference.int8_smoothing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [n for n in MODEL_INPUTS if n in run.tokenizer.model_input_names]
    sample = run.tokenizer(["Who wrote it?", "When?"], ["It was written by Ada.", "In 1843."],
                           padding=True, return_tensors="pt")
    wrapper = (_QAWithTypes if "token_type_ids" in names else _QAWithoutTypes)(run.model).eval()
    run.model.set_attn_implementation("eager")  # plain MatMul/Softmax, which ONNX Runtime runs well
    # The TorchScript exporter, not the dynamo one: measured here (MiniLM, 2 CPU cores, batches
    # of 32 windows) the dynamo graph ran at 0.73x PyTorch's speed, this one at 1.0x.
    with _known_trace_warnings_silenced():
        torch.onnx.export(wrapper, tuple(sample[n] for n in names), str(out_dir / FP32_FILE),
                          input_names=names, output_names=OUTPUTS,
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names},
                          dynamo=False, opset_version=17)
    check_logits(wrapper, run.tokenizer, out_dir / FP32_FILE, names)
    written = [out_dir / FP32_FILE]
    if quantize == "int8":
        if calibration is None:
            raise ValueError("an int8 export needs calibration windows")
        written.append(_quantize_int8(out_dir / FP32_FILE, out_dir / INT8_FILE,
                                      window_feeds(calibration, names)))
    run.tokenizer.save_pretrained(out_dir)
    run.model.config.save_pretrained(out_dir)
    stored = run.model_dir / CALIBRATION
    if stored.is_file():
        shutil.copyfile(stored, out_dir / stored.name)
    settings = {"format": "onnx", "inputs": names, "eval_batch_size": run.eval_batch_size,
                "data": {k: v for k, v in _plain(run.data_cfg).items()
                         if k != "null_score_diff_threshold"},
                "null_score_diff_threshold": run.data_cfg.null_score_diff_threshold}
    (out_dir / EXPORT_SETTINGS).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return written


@contextlib.contextmanager
def _known_trace_warnings_silenced():
    """Hide the two warnings the TorchScript exporter gives for every BERT-style model of
    Transformers 5, which `check_logits` proves harmless for the export:
    a TracerWarning that the padding test of the attention mask (`kv_length + kv_offset -
    attention_mask.shape[-1] > 0`, never true without a key-value cache) is traced as a
    constant, and a note that `aten::index` would give wrong results for negative indices
    (the mask indexes with positions from `arange`, never negative)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        yield


def check_logits(wrapper, tokenizer, path: Path, names: list[str]) -> None:
    """Failure (one line, exit status 1) unless the ONNX graph at `path` computes the
    PyTorch model's logits on windows of another batch size and length than the traced ones,
    with padding: what a constant the tracer kept could break."""
    import onnxruntime

    probe = tokenizer(["Who wrote the book in 1813?", "Where?", "When was it published?"],
                      ["The book was written by Jane Austen, in 1813, and published in London "
                       "by Thomas Egerton.", "London.", "In 1813."],
                      padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = [tensor.numpy() for tensor in wrapper(*(probe[n] for n in names))]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: probe[n].numpy() for n in names})
    difference = max(float(np.abs(a - b).max()) for a, b in zip(got, expected))
    if not difference <= LOGIT_TOLERANCE:
        raise Failure(f"the exported graph computes other logits than the model (by up to "
                           f"{difference:.3g}); the export is not usable")


class _NoPreprocessingAdvice(logging.Filter):
    """ONNX Runtime's quantizer advises its pre-processing (shape inference and fusions) on
    the root logger; the fused graph ran no faster here (docs/benchmarks.md)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


def _quantize_int8(fp32: Path, int8: Path, calibration) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(fp32))
    smooth_for_int8(model, calibration)
    # Per-channel weight scales lose far less F1 than one per tensor; ONNX Runtime's fused
    # attention graphs ran no faster here, so the plain graph is kept (docs/benchmarks.md).
    advice = _NoPreprocessingAdvice()
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(model, str(int8), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.getLogger().removeFilter(advice)
    return int8


def window_feeds(windows, input_names: list[str]):
    """ONNX Runtime feeds of one window each from a datasets.Dataset of model inputs."""
    rows = windows.select_columns(input_names).to_dict()
    for index in range(len(rows[input_names[0]])):
        yield {name: np.asarray([rows[name][index]], dtype=np.int64) for name in input_names}


def _plain(cfg) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)


def export_settings(stored: Any, source: Path) -> ExportSettings:
    """The settings of an export from `stored`, the JSON read from its qa_export.json
    (`source`); ExportError unless it is exactly what qa-export writes (its keys, each of its
    type)."""
    problem = _settings_problem(stored)
    if problem:
        raise ExportError(f"{str(source)!r} is not an export qa-export wrote: {problem}; export "
                          "the model again.")
    return ExportSettings(stored["inputs"], stored["eval_batch_size"], stored["data"],
                          float(stored["null_score_diff_threshold"]))


def _settings_problem(settings: Any) -> str | None:
    """What in a parsed qa_export.json differs from what qa-export writes (None: nothing)."""
    if not isinstance(settings, dict):
        return "it is not a JSON object"
    keys = set(settings)
    if keys != set(EXPORT_KEYS):
        missing, unknown = sorted(set(EXPORT_KEYS) - keys), sorted(keys - set(EXPORT_KEYS))
        return (f"missing {', '.join(missing)}" if missing else
                f"unknown keys {', '.join(repr(key) for key in unknown)}")
    inputs, batch_size = settings["inputs"], settings["eval_batch_size"]
    if settings["format"] != "onnx":
        return 'format is not "onnx"'
    if inputs not in (list(MODEL_INPUTS[:2]), list(MODEL_INPUTS)):
        return f"inputs is not [{', '.join(MODEL_INPUTS[:2])}] with or without token_type_ids"
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        return "eval_batch_size is not a positive whole number"
    if not isinstance(settings["data"], dict):
        return "data is not an object"
    if not _finite_number(settings["null_score_diff_threshold"]):
        return "null_score_diff_threshold is not a finite number"
    return None


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


class OnnxModel:
    """An exported model run by ONNX Runtime, with the Trainer's `predict` interface for
    predict_logits: start/end logits of every window, padded to the longest.

    Every window is run on its own, one per CPU core at a time, rather than in padded batches:
    the int8 model quantizes its activations with a scale computed per call, so a window's
    answer must not depend on the windows sent with it; no time goes to padding; and on the CPU
    it is faster than batches (measured in docs/benchmarks.md, "CPU inference").
    """

    def __init__(self, path: Path, input_names: list[str]):
        """ExportError unless `path` is an ONNX graph that ONNX Runtime loads, taking exactly
        `input_names` and giving start and end logits (what qa_export.json says)."""
        import onnxruntime

        self.path = path
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # the parallelism is across windows (predict)
        try:
            self.session = onnxruntime.InferenceSession(str(path), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime's errors derive from Exception alone
            raise ExportError(f"{str(path)!r} is not an ONNX model ONNX Runtime can load "
                              f"({type(error).__name__}); export the model again.") from error
        _check_graph(self.session, path, input_names)
        self.input_names = input_names
        self.threads = usable_cores()

    def predict(self, dataset) -> SimpleNamespace:
        count = len(dataset)
        width = max((len(ids) for ids in dataset["input_ids"]), default=0)
        start = np.full((count, width), PAD_LOGIT, dtype=np.float32)
        end = np.full((count, width), PAD_LOGIT, dtype=np.float32)

        def run(index: int, feeds: dict[str, np.ndarray]) -> None:
            window_start, window_end = self.session.run(None, feeds)
            start[index, :window_start.shape[1]] = window_start[0]
            end[index, :window_end.shape[1]] = window_end[0]

        with ThreadPoolExecutor(self.threads) as pool:  # ONNX Runtime releases the GIL
            list(pool.map(run, range(count), window_feeds(dataset, self.input_names)))
        return SimpleNamespace(predictions=(start, end))


def _check_graph(session, path: Path, input_names: list[str]) -> None:
    """ExportError unless the graph's inputs are `input_names` (integer windows) and its outputs
    the start and end logits."""
    inputs = {node.name: node for node in session.get_inputs()}
    outputs = [node.name for node in session.get_outputs()]
    if set(inputs) != set(input_names) or outputs != OUTPUTS or any(
            node.type != "tensor(int64)" or len(node.shape) != 2 for node in inputs.values()):
        raise ExportError(
            f"{str(path)!r} is not the model qa_export.json describes: it takes "
            f"{', '.join(sorted(inputs)) or 'nothing'} and gives {', '.join(outputs) or 'nothing'}"
            f" (expected {', '.join(input_names)} as int64 windows, and {', '.join(OUTPUTS)}); "
            "export the model again.")
