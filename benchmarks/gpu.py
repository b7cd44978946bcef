"""CUDA throughput and scores: fp32 with fixed 384 padding (the references) vs the defaults.

Runs the real train entrypoint in subprocesses, one variant after the other:
- throughput: a bert-base-sized model (random init from a config, MiniLM's uncased vocabulary)
  and MiniLM, `--steps` optimizer steps each, reporting train samples/s, non-padding tokens/s,
  an MFU estimate and peak GPU memory;
- scores: MiniLM trained `--score-epochs` on the train file and evaluated on the bundled
  SQuAD v1.1 dev set, for both variants.
Needs nothing from the network. The approximate full train set is not bundled: pass it.

    python benchmarks/gpu.py --train-file train-full-reconstructed-from-explorer-v1.0.json
    python benchmarks/gpu.py --train-file F --device cpu --steps 3 --score-epochs 0  # smoke test

The last line is the headline: the defaults' samples/s over fp32 fixed padding (bert-base).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from transformers import AutoModelForQuestionAnswering, AutoTokenizer, BertConfig

from qa_experiments.paths import minilm_path

PEAK_BF16_FLOPS = 989e12  # H100 SXM dense bf16; MFU is relative to it for every variant
VARIANTS = {
    "fp32, fixed 384": ["hardware.precision=fp32", "hardware.tf32=false",
                        "data.pad_to_max_length=true", "data.length_bucket_width=null",
                        "hardware.fused_optimizer=false"],
    "defaults": [],
}


def bert_base(out: Path) -> Path:
    """A randomly initialised bert-base-sized QA model with MiniLM's uncased tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    model = AutoModelForQuestionAnswering.from_config(BertConfig(vocab_size=len(tokenizer)))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def train(model_dir: str, overrides: list[str], common: list[str], out: Path) -> dict:
    subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "logger=none",
         f"model.name_or_path={model_dir}", "trainer.disable_tqdm=true",
         "trainer.save_strategy=no", *common, *overrides, f"hydra.run.dir={out}"],
        check=True, stdout=subprocess.DEVNULL,
    )
    return json.loads((out / "results.json").read_text())


def mfu(results: dict, n_params: int) -> float:
    return 6 * n_params * results["train_tokens_per_second"] / PEAK_BF16_FLOPS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-file", required=True)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--score-epochs", type=float, default=1.0)
    args = parser.parse_args()
    hardware = "hardware=gpu" if args.device == "cuda" else "hardware=cpu"
    common = [hardware, "data=local", f"data.train_file={args.train_file}",
              "data.eval_file=${bundled_data:dev-v1.1.json.gz}",
              f"hardware.train_batch_size={args.batch_size}", "data.cache_features=true"]
    headline = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = {"bert-base (random init)": str(bert_base(tmp / "bert-base")),
                  "MiniLM": minilm_path()}
        for name, model_dir in models.items():
            n_params = AutoModelForQuestionAnswering.from_pretrained(model_dir).num_parameters()
            for variant, overrides in VARIANTS.items():
                r = train(model_dir, overrides, common + [f"trainer.max_steps={args.steps}",
                                                          "data.max_eval_samples=200"],
                          tmp / f"{name[:4]}-{variant[:4]}")
                headline[(name, variant)] = r["train_samples_per_second"]
                print(f"{name} | {variant}: {r['train_samples_per_second']:.1f} samples/s, "
                      f"{r['train_tokens_per_second']:.0f} tokens/s, MFU {mfu(r, n_params):.1%}, "
                      f"peak memory {r['peak_memory_mb']:.0f} MB", flush=True)
        if args.score_epochs:
            for variant, overrides in VARIANTS.items():
                r = train(minilm_path(), overrides,
                          common + [f"trainer.num_train_epochs={args.score_epochs}"],
                          tmp / f"score-{variant[:4]}")
                print(f"MiniLM scores | {variant}: EM {r['exact_match']:.2f} / F1 {r['f1']:.2f} "
                      f"on {r['eval_examples']} dev questions, train {r['train_runtime']:.0f} s",
                      flush=True)
    base = headline[("bert-base (random init)", "fp32, fixed 384")]
    ours = headline[("bert-base (random init)", "defaults")]
    print(f"bert-base train samples/s, defaults over fp32 fixed padding: {ours / base:.2f}x")


if __name__ == "__main__":
    main()
