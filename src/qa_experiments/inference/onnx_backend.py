"""Exported models: write a trained model as ONNX (optionally dynamically quantized to int8
with ONNX Runtime) and answer with it through the same windows and decoding as PyTorch.

For BERT-family models (BERT, MiniLM, RoBERTa, DistilBERT) the graph is rewritten with ONNX
Runtime's transformer fusions (one Attention, SkipLayerNormalization and BiasGelu op per layer
instead of dozens of small ones) when the fused graph gives the same logits; the int8 model
is quantized from it.

An export directory holds `model.onnx` (fp32, dynamic batch and sequence axes), with
`--quantize int8` also `model.int8.onnx`, the tokenizer, `calibration.json` when the run has
one, and `qa_export.json`: the run's data settings (windows, decoding, no-answer threshold),
which `predictor.load_run` reads to load the directory like a run (backend onnx).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

EXPORT_FILE = "qa_export.json"
FP32_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"
PAD_LOGIT = -100.0  # what the Trainer pads predictions with; predict_logits keeps real positions
FUSABLE_MODEL_TYPES = ("bert", "roberta", "distilbert")  # ONNX Runtime's "bert" fusions
# Windows of different lengths (so padded differently) that a fused graph must answer alike.
CHECK_PAIRS = (["Who wrote it?", "When was the city founded, and by whom?", "Why?"],
               ["It was written by Ada.", "The city was founded in 1200 by traders who came "
                "up the river; " * 8, "Because the weather was bad that spring."])
FUSION_TOLERANCE = 1e-3  # largest logit difference a fused graph may show on the check batch


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


def export_onnx(run, out_dir: Path, *, quantize: str | None = None) -> list[Path]:
    """Write `run` (a predictor.LoadedRun with a PyTorch model) as an export directory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
             if n in run.tokenizer.model_input_names]
    sample = run.tokenizer(["Who wrote it?", "When?"], ["It was written by Ada.", "In 1843."],
                           padding=True, return_tensors="pt")
    wrapper = (_QAWithTypes if "token_type_ids" in names else _QAWithoutTypes)(run.model).eval()
    run.model.set_attn_implementation("eager")  # plain MatMul/Softmax, which ONNX Runtime runs well
    # The TorchScript exporter, not the dynamo one: measured here (MiniLM, 2 CPU cores, batches
    # of 32 windows) the dynamo graph ran at 0.73x PyTorch's speed, this one at 1.0x, and its
    # int8 quantization at 2.5x.
    torch.onnx.export(wrapper, tuple(sample[n] for n in names), str(out_dir / FP32_FILE),
                      input_names=names, output_names=["start_logits", "end_logits"],
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names},
                      dynamo=False, opset_version=17)
    check = run.tokenizer(*CHECK_PAIRS, padding=True, return_tensors="np")
    fused = fuse_layers(out_dir / FP32_FILE, run.model.config, {n: check[n] for n in names})
    written = [out_dir / FP32_FILE]
    if quantize == "int8":
        from onnx import TensorProto
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # The fused ops are outside ONNX's shape inference, so the quantizer is told that the
        # tensors it cannot type are float.
        quantize_dynamic(str(out_dir / FP32_FILE), str(out_dir / INT8_FILE),
                         weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT} if fused else {})
        written.append(out_dir / INT8_FILE)
    run.tokenizer.save_pretrained(out_dir)
    run.model.config.save_pretrained(out_dir)
    calibration = run.model_dir / "calibration.json"
    if calibration.is_file():
        shutil.copyfile(calibration, out_dir / calibration.name)
    settings = {"format": "onnx", "inputs": names, "eval_batch_size": run.eval_batch_size,
                "data": {k: v for k, v in _plain(run.data_cfg).items()
                         if k != "null_score_diff_threshold"},
                "null_score_diff_threshold": run.data_cfg.null_score_diff_threshold}
    (out_dir / EXPORT_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return written


def fuse_layers(path: Path, config, feeds: dict[str, np.ndarray]) -> bool:
    """Replace the ONNX model at `path` by its ONNX Runtime transformer fusion when the model
    type has one and the fused graph's logits on `feeds` match the plain graph's; whether it
    did. Measured on MiniLM: see docs/benchmarks.md."""
    if config.model_type not in FUSABLE_MODEL_TYPES:
        return False
    from onnxruntime.transformers.optimizer import optimize_model

    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", 0)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", 0)
    optimized = optimize_model(str(path), model_type="bert", num_heads=heads,
                               hidden_size=hidden)
    if not optimized.get_fused_operator_statistics().get("Attention"):
        return False  # the attention pattern was not recognised: nothing worth the change
    fused_path = path.with_name(f"fused.{path.name}")
    optimized.save_model_to_file(str(fused_path))
    try:
        difference = max(np.abs(a - b).max() for a, b in zip(
            _session(path).run(None, feeds), _session(fused_path).run(None, feeds)))
        if difference > FUSION_TOLERANCE:
            return False
        fused_path.replace(path)
        return True
    finally:
        fused_path.unlink(missing_ok=True)


def _session(path: Path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _plain(cfg) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)


class OnnxModel:
    """An exported model run by ONNX Runtime, with the Trainer's `predict` interface for
    predict_logits: start/end logits of every window, padded to the longest."""

    def __init__(self, path: Path, input_names: list[str], batch_size: int, pad_token_id: int):
        self.path = path
        self.session = _session(path)
        self.input_names = input_names
        self.batch_size = batch_size
        self.pad_token_id = pad_token_id

    def predict(self, dataset) -> SimpleNamespace:
        rows = dataset.to_dict()
        count = len(rows["input_ids"])
        width = max((len(ids) for ids in rows["input_ids"]), default=0)
        start = np.full((count, width), PAD_LOGIT, dtype=np.float32)
        end = np.full((count, width), PAD_LOGIT, dtype=np.float32)
        for first in range(0, count, self.batch_size):
            last = min(first + self.batch_size, count)
            feeds = self._padded(rows, first, last)
            batch_start, batch_end = self.session.run(None, feeds)
            start[first:last, :batch_start.shape[1]] = batch_start
            end[first:last, :batch_end.shape[1]] = batch_end
        return SimpleNamespace(predictions=(start, end))

    def _padded(self, rows: dict[str, list], first: int, last: int) -> dict[str, np.ndarray]:
        width = max(len(ids) for ids in rows["input_ids"][first:last])
        feeds = {}
        for name in self.input_names:
            fill = self.pad_token_id if name == "input_ids" else 0
            batch = np.full((last - first, width), fill, dtype=np.int64)
            for i, values in enumerate(rows[name][first:last]):
                batch[i, :len(values)] = values
            feeds[name] = batch
        return feeds
