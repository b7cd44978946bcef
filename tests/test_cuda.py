"""The CUDA training path, on a real GPU: precision, TF32, fused AdamW, SDPA, padding to multiples
of 8, pinned memory with loader workers, torch.compile, evaluation, resume and peak memory.

Marked `cuda`; skipped where no CUDA GPU is visible (CI has none). Run them on a GPU machine with
`python -m pytest -q -m cuda`.
"""

from __future__ import annotations

import json

import pytest
import torch

from helpers import (
    CPU_FP32,
    FAST,
    assert_scores_match_predictions,
    assert_training_rate_matches,
    compiled_run,
    kill_and_resume,
    run_train,
)
from qa_experiments.inference.predictor import evaluate_file, load_run
from qa_experiments.training import experiment as training

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

# FAST on the GPU preset: bf16 autocast, TF32, fused AdamW, loader workers with pinned memory.
GPU_FAST = [o for o in FAST if o not in CPU_FP32] + ["hardware=gpu", "model=tiny_bert",
                                                       "data.max_train_samples=200"]


def matmul_error() -> float:
    """Relative error of a float32 CUDA matmul against float64: about 1e-7 in fp32, 1e-4 to
    1e-3 when PyTorch runs it in TF32."""
    a, b = (torch.randn(1024, 1024, device="cuda") for _ in range(2))
    exact = a.double() @ b.double()
    return ((a @ b).double() - exact).norm().item() / exact.norm().item()


@pytest.fixture
def watched(monkeypatch):
    """Records the Trainer a run builds, each training batch's length (as the model receives
    it; the collator runs in loader worker processes), and the output dtype of the model's QA
    head during training steps."""
    seen = {"lengths": [], "head_dtypes": set()}

    class WatchedTrainer(training.QATrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen["trainer"] = self
            self.model.qa_outputs.register_forward_hook(self._record_dtype)

        def training_step(self, model, inputs, *args, **kwargs):
            seen["lengths"].append(inputs["input_ids"].shape[1])
            return super().training_step(model, inputs, *args, **kwargs)

        def _record_dtype(self, module, inputs, output):
            if module.training:
                seen["head_dtypes"].add(output.dtype)

    monkeypatch.setattr(training, "QATrainer", WatchedTrainer)
    return seen


def test_gpu_preset_trains_in_bf16_with_tf32_fused_adamw_sdpa_and_pinned_workers(
        tmp_path, watched):
    _, run_dir = run_train(tmp_path, "gpu", GPU_FAST)
    trainer = watched["trainer"]
    assert trainer.args.bf16 and not trainer.args.fp16
    assert watched["head_dtypes"] == {torch.bfloat16}  # autocast ran the forward in bf16
    assert next(trainer.model.parameters()).dtype == torch.float32  # fp32 master weights
    assert matmul_error() > 1e-4  # fp32 matmuls now run as TF32 (fp32 itself: about 1e-7)
    assert trainer.args.optim == "adamw_torch_fused"
    assert trainer.optimizer.optimizer.defaults["fused"] is True
    assert trainer.model.config._attn_implementation == "sdpa"
    lengths = watched["lengths"]
    assert len(set(lengths)) >= 3 and all(length % 8 == 0 for length in lengths), lengths
    loader = trainer.get_train_dataloader()
    assert loader.pin_memory and loader.num_workers > 0
    results = json.loads((run_dir / "results.json").read_text())
    assert results["device"].startswith("cuda")
    total_mb = torch.cuda.get_device_properties(0).total_memory / 2**20
    assert 0 < results["peak_memory_mb"] < total_mb
    assert_scores_match_predictions(run_dir)


def test_fp16_uses_loss_scaling(tmp_path, watched):
    _, run_dir = run_train(tmp_path, "fp16", GPU_FAST + ["hardware.precision=fp16"])
    trainer = watched["trainer"]
    assert trainer.args.fp16 and not trainer.args.bf16
    assert watched["head_dtypes"] == {torch.float16}
    assert trainer.accelerator.scaler is not None  # a GradScaler guards fp16 gradients
    results = json.loads((run_dir / "results.json").read_text())
    assert results["train_loss"] == pytest.approx(results["train_loss"])  # finite, not NaN


def test_peak_memory_comes_from_the_cuda_allocator():
    torch.cuda.reset_peak_memory_stats()
    block = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
    assert training.peak_memory_mb() >= 256
    del block


def test_inductor_compiles_few_graphs_for_bucketed_lengths(tmp_path, monkeypatch):
    lengths, compiles, results = compiled_run(tmp_path, monkeypatch, [
        *(o for o in GPU_FAST if not o.startswith(("model=", "data.max_train_samples="))),
        "hardware.dataloader_num_workers=0",  # batches are recorded in this process
    ])
    assert len(lengths) >= 6, lengths
    assert 1 <= compiles <= 3, compiles  # static, dynamic length, dynamic last batch size
    assert_training_rate_matches(results)


def test_gpu_evaluation_matches_the_cpu(tmp_path):
    """The same trained model scores the same on CUDA (fp32, TF32 off) as on the CPU."""
    _, run_dir = run_train(tmp_path, "cpu", FAST + ["model=tiny_bert",
                                                    "trainer.num_train_epochs=3"])
    on_cpu = json.loads((run_dir / "results.json").read_text())
    run = load_run(run_dir)
    run.hardware["tf32"] = False
    eval_file = json.loads((run_dir / "config.json").read_text())["data"]["eval_file"]
    on_gpu, _ = evaluate_file(run, eval_file, max_samples=on_cpu["eval_examples"])
    assert (on_gpu["exact_match"], on_gpu["f1"]) == (on_cpu["exact_match"], on_cpu["f1"])
    assert matmul_error() < 1e-5  # tf32=false was applied
    assert torch.cuda.max_memory_allocated() > 0  # it did run on the GPU


def test_killed_run_resumes_to_the_uninterrupted_result_on_cuda(tmp_path):
    """fp32 with deterministic kernels, so the resumed run must match exactly."""
    kill_and_resume(tmp_path, "hardware.device=cuda", "hardware.tf32=false",
                    "+trainer.full_determinism=true")
