"""Post-processing speed: vectorised answers vs the reference per-window loop, same answers.

2,000 dev-v1.1 questions cut into 384/128 windows with the MiniLM tokenizer (2,023 windows),
seeded random logits. Run from the repository root:

    python benchmarks/postprocess.py

The last line is the headline: the speed-up of the vectorised version (which also computes
every answer's probability); the line before it times the v2 decoding that keeps the 5 best
candidates per question (what a run writes to nbest_predictions.json).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from reference_decoding import loop_reference  # beside this script

from qa_experiments.config.paths import minilm_path
from qa_experiments.config.schema import DataConfig, ModelConfig
from qa_experiments.data.splits import load_split
from qa_experiments.data.windows import prepare_eval_features
from qa_experiments.model.loading import load_tokenizer
from qa_experiments.scoring.decoding import postprocess_predictions


def best_of(repeats: int, function) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    data_cfg = OmegaConf.structured(DataConfig(
        name="sample", train_file="unused", max_eval_samples=2000,
        eval_file=str(Path(__file__).resolve().parents[1]
                      / "src/qa_experiments/bundled_data/dev-v1.1.json.gz")))
    examples, _ = load_split(data_cfg, "eval")
    model_cfg = OmegaConf.structured(ModelConfig(name="minilm", name_or_path=minilm_path()))
    tokenizer = load_tokenizer(model_cfg)
    features = prepare_eval_features(examples, tokenizer, data_cfg)
    width = max(len(ids) for ids in features["input_ids"])
    offsets = np.full((len(features), width, 2), -1, dtype=np.int64)
    for i, window in enumerate(features["offset_mapping"]):
        offsets[i, : len(window)] = window
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=(2, len(features), width)).astype(np.float32)
    cls, example_index = np.asarray(features["cls_index"]), np.asarray(features["example_index"])
    contexts = list(examples["context"])
    print(f"{len(examples)} questions, {len(features)} windows of up to {width} tokens")

    loop_s, loop_answers = best_of(3, lambda: loop_reference(
        start, end, offsets, cls, example_index, contexts, n_best=20, max_len=30, v2=False,
        threshold=0.0))
    fast_s, fast_answers = best_of(10, lambda: postprocess_predictions(
        start, end, offsets, cls, example_index, contexts))
    identical = [p.text for p in fast_answers] == loop_answers
    print(f"per-window loop: {loop_s:.3f} s; vectorised: {fast_s:.3f} s; "
          f"identical answers: {identical}")
    nbest_s, _ = best_of(10, lambda: postprocess_predictions(
        start, end, offsets, cls, example_index, contexts, version_2_with_negative=True,
        keep_candidates=5))
    print(f"vectorised, SQuAD v2 with the 5 best candidates per question: {nbest_s:.3f} s")
    print(f"postprocess speed-up: {loop_s / fast_s:.1f}x "
          f"({fast_s:.3f} s for {len(features)} windows)")


if __name__ == "__main__":
    main()
