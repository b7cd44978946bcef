"""Exported models: write a trained model as ONNX (optionally dynamically quantized to int8
with ONNX Runtime, after activation smoothing) and answer with it through the same windows
and decoding as PyTorch.

An export directory holds `model.onnx` (fp32, dynamic batch and sequence axes), with
`--quantize int8` also `model.int8.onnx`, the tokenizer, `calibration.json` when the run has
one, and `qa_export.json`: the run's data settings (windows, decoding, no-answer threshold),
which `predictor.load_run` reads to load the directory like a run (backend onnx).
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from qa_experiments.data.windows import usable_cores
from qa_experiments.inference.int8_smoothing import smooth_for_int8
from qa_experiments.runs.layout import CALIBRATION, EXPORT_SETTINGS

FP32_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"
PAD_LOGIT = -100.0  # what the Trainer pads predictions with; predict_logits keeps real positions


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
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
             if n in run.tokenizer.model_input_names]
    sample = run.tokenizer(["Who wrote it?", "When?"], ["It was written by Ada.", "In 1843."],
                           padding=True, return_tensors="pt")
    wrapper = (_QAWithTypes if "token_type_ids" in names else _QAWithoutTypes)(run.model).eval()
    run.model.set_attn_implementation("eager")  # plain MatMul/Softmax, which ONNX Runtime runs well
    # The TorchScript exporter, not the dynamo one: measured here (MiniLM, 2 CPU cores, batches
    # of 32 windows) the dynamo graph ran at 0.73x PyTorch's speed, this one at 1.0x.
    torch.onnx.export(wrapper, tuple(sample[n] for n in names), str(out_dir / FP32_FILE),
                      input_names=names, output_names=["start_logits", "end_logits"],
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names},
                      dynamo=False, opset_version=17)
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


def _quantize_int8(fp32: Path, int8: Path, calibration) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(fp32))
    smooth_for_int8(model, calibration)
    # Per-channel weight scales lose far less F1 than one per tensor; ONNX Runtime's fused
    # attention graphs ran no faster here, so the plain graph is kept (docs/benchmarks.md).
    quantize_dynamic(model, str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return int8


def window_feeds(windows, input_names: list[str]):
    """ONNX Runtime feeds of one window each from a datasets.Dataset of model inputs."""
    rows = windows.select_columns(input_names).to_dict()
    for index in range(len(rows[input_names[0]])):
        yield {name: np.asarray([rows[name][index]], dtype=np.int64) for name in input_names}


def _plain(cfg) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)


class OnnxModel:
    """An exported model run by ONNX Runtime, with the Trainer's `predict` interface for
    predict_logits: start/end logits of every window, padded to the longest.

    Every window is run on its own, one per CPU core at a time, rather than in padded batches:
    the int8 model quantizes its activations with a scale computed per call, so a window's
    answer must not depend on the windows sent with it; no time goes to padding; and on the CPU
    it is faster than batches (measured in docs/benchmarks.md, "CPU inference").
    """

    def __init__(self, path: Path, input_names: list[str]):
        import onnxruntime

        self.path = path
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # the parallelism is across windows (predict)
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=["CPUExecutionProvider"])
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
