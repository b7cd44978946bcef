"""Predict answers for evaluation windows and score them with the official SQuAD rules."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np

from qa_experiments.scoring.answer_files import no_answer_probabilities
from qa_experiments.scoring.decoding import Prediction, postprocess_predictions
from qa_experiments.scoring.hf_evaluate import load_squad_metric
from qa_experiments.scoring.no_answer import official_best_thresholds
from qa_experiments.scoring.question_records import question_records, windows_per_question
from qa_experiments.scoring.tuning import Tuned, tune

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class Evaluation:
    """Scores (percent) with the calibration / no-answer threshold figures, answers by question
    id, the decoded answers, one record per question (`question_records`), what to store with
    the model (`tuning.Tuned.stored`) and the wall time it took."""

    metrics: dict[str, Any]
    predictions: dict[str, str]
    answers: list[Prediction]
    records: list[dict[str, Any]]
    stored: dict[str, Any]
    runtime: float


def evaluate_features(
    trainer, features: datasets.Dataset, examples: datasets.Dataset, data_cfg, *,
    tune_answers: bool = True,
):
    """Run the model over all windows, pick each question's answer, compute EM/F1; with
    `tune_answers`, also the cross-validated calibration and no-answer threshold (`tuning`),
    the official best thresholds (SQuAD v2) and each question's confidence."""
    started = time.perf_counter()
    start_logits, end_logits = predict_logits(trainer, features)
    version_2 = data_cfg.version_2_with_negative
    threshold = data_cfg.null_score_diff_threshold

    def decode(at) -> list[Prediction]:
        return decode_answers(start_logits, end_logits, features, examples, data_cfg,
                              null_score_diff_threshold=at,
                              keep_candidates=data_cfg.nbest_predictions_size)

    golds = [answers["text"] for answers in examples["answers"]]
    if tune_answers:
        answers, tuned = tune(decode, golds, examples["context"], version_2, threshold)
    else:
        answers, tuned = decode(0.0 if threshold == "auto" else threshold), Tuned({}, {}, None)
    predictions = {qid: answer.text for qid, answer in zip(examples["id"], answers)}
    metrics = score_predictions(predictions, examples, version_2)
    if version_2 and tune_answers:
        na_probs = no_answer_probabilities(examples["id"], answers)
        metrics.update(official_best_thresholds(predictions, na_probs,
                                                dict(zip(examples["id"], golds))))
    metrics.update(tuned.sections)
    windows = windows_per_question(features["example_index"], len(examples))
    records = question_records(examples, answers, windows, version_2, tuned.confidences)
    return Evaluation(metrics, predictions, answers, records, tuned.stored,
                      time.perf_counter() - started)


def predict_logits(trainer, features: datasets.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Start/end logits (F, L) for every window, in the features' order.

    Windows are run shortest first so that each batch pads to a similar length (the
    Trainer's prediction loop batches in dataset order), then put back in order. Positions
    past a window's own tokens get -1e4: the model's outputs for padding tokens would
    otherwise compete in decoding's top-n, and a window's answer would depend on the longest
    window batched with it.
    """
    lengths = np.asarray(features["length"])
    order = np.argsort(lengths, kind="stable")
    inputs = features.select_columns([c for c in MODEL_INPUTS if c in features.column_names])
    output = trainer.predict(inputs.select(order))
    width = max((len(ids) for ids in features["input_ids"]), default=0)
    padding = np.arange(width)[None, :] >= lengths[:, None]
    logits = []
    for sorted_logits in output.predictions[:2]:
        restored = np.zeros((len(order), width), dtype=np.float32)
        # Batches were padded to their own length, under mixed precision up to a multiple of
        # 8 beyond the longest window; keep the real positions only.
        kept = min(width, sorted_logits.shape[1])
        restored[order, :kept] = sorted_logits[:, :kept]
        restored[padding] = -1e4
        logits.append(restored)
    return logits[0], logits[1]


def decode_answers(
    start_logits, end_logits, features, examples, data_cfg, *,
    null_score_diff_threshold: float | np.ndarray, keep_candidates: int = 0,
) -> list[Prediction]:
    """One Prediction per example from the windows' logits, at the given no-answer threshold
    (a number or one per example), with its `keep_candidates` best candidates."""
    width = start_logits.shape[1]
    offsets = np.full((len(features), width, 2), -1, dtype=np.int64)
    for i, window in enumerate(features["offset_mapping"]):
        offsets[i, : len(window)] = window
    return postprocess_predictions(
        start_logits,
        end_logits,
        offsets,
        np.asarray(features["cls_index"]),
        np.asarray(features["example_index"]),
        list(examples["context"]),
        n_best_size=data_cfg.n_best_size,
        max_answer_length=data_cfg.max_answer_length,
        version_2_with_negative=data_cfg.version_2_with_negative,
        null_score_diff_threshold=null_score_diff_threshold,
        keep_candidates=keep_candidates,
    )


def score_predictions(
    predictions: dict[str, str], examples: datasets.Dataset, version_2: bool
) -> dict[str, Any]:
    """Official SQuAD v1.1 (or v2.0) EM and F1 in percent, through the bundled evaluate module."""
    metric = load_squad_metric(version_2)
    references = [{"id": qid, "answers": answers} for qid, answers in
                  zip(examples["id"], examples["answers"])]
    formatted = [{"id": qid, "prediction_text": text} for qid, text in predictions.items()]
    if version_2:
        for row in formatted:
            row["no_answer_probability"] = 0.0
    return metric.compute(predictions=formatted, references=references)
