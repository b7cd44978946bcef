"""The Python answering API: load a trained model once, then answer one question or a batch.

    from qa_experiments.inference.answerer import QuestionAnswerer

    qa = QuestionAnswerer.load("outputs/2026-12-05/10-00-00")   # a run, checkpoint or model dir
    answer = qa.answer("Who wrote it?", "It was written by Ada.", top_k=3)
    answer.text, answer.start, answer.end, answer.probability, answer.confidence

Contexts of any length are cut into windows as in training; decoding, probabilities, the
calibrated confidence and the SQuAD v2 no-answer threshold are the run's own (the functions
`qa-evaluate` uses), so every surface (this API, `qa-predict`, `qa-serve`) gives the same answer.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets

from qa_experiments.data.splits import MAX_CONTEXT_CHARS
from qa_experiments.data.squad_files import DataError, is_unicode_text
from qa_experiments.data.windows import prepare_eval_features
from qa_experiments.evaluation.model_eval import decode_answers, predict_logits
from qa_experiments.inference.predictor import (
    LoadedRun,
    confidence,
    load_run,
    prediction_trainer,
)
from qa_experiments.scoring.decoding import Prediction


@dataclass(frozen=True)
class Alternative:
    """One of the most probable answers: `text` at context[start:end] ("" and -1: none)."""

    text: str
    start: int
    end: int
    probability: float | None
    score: float | None  # start + end logit (the null score for ""); None if not finite


@dataclass(frozen=True)
class Answer:
    """The answer to one question about one context.

    `text` is context[start:end] (end exclusive), "" with start = end = -1 when the model
    answers "no answer" (SQuAD v2) or the answer is withheld below `min_confidence`
    (`abstained`). `probability` is the model's probability of its answer, `confidence` the
    calibrated P(the answer is exactly right) (None without a stored calibration).
    """

    text: str
    start: int
    end: int
    probability: float | None
    confidence: float | None
    score: float | None = None  # start + end logit of the span; None if not finite
    abstained: bool = False
    no_answer_probability: float | None = None
    model_answer: str = ""  # what the model answered, also when abstained
    alternatives: list[Alternative] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def withheld(text: str, confidence_value: float | None, min_confidence: float | None) -> bool:
    """Whether `min_confidence` replaces the answer `text` with "": an answer (not the model's
    own "no answer") whose confidence is below `min_confidence`."""
    return (bool(text) and min_confidence is not None and confidence_value is not None
            and confidence_value < min_confidence)


class QuestionAnswerer:
    """A trained model, loaded once, answering questions (see the module docstring)."""

    def __init__(self, run: LoadedRun):
        self.run = run
        self._open = contextlib.ExitStack()
        self._trainer = self._open.enter_context(prediction_trainer(run))

    @classmethod
    def load(cls, path: str | Path, *, null_threshold: float | str | None = None,
             precision: str | None = None) -> QuestionAnswerer:
        """Load a run directory, a checkpoint, a model directory or an ONNX export directory
        (`precision` fp32 or int8; see predictor.load_run)."""
        return cls(load_run(path, null_threshold=null_threshold, precision=precision))

    @property
    def calibrated(self) -> bool:
        return self.run.calibration is not None

    @property
    def version_2(self) -> bool:
        return bool(self.run.data_cfg.version_2_with_negative)

    def answer(self, question: str, context: str, *, top_k: int = 0,
               min_confidence: float | None = None) -> Answer:
        """The answer to `question` about `context`, with its `top_k` best alternatives."""
        return self.answer_batch([(question, context)], top_k=top_k,
                                 min_confidence=min_confidence)[0]

    def answer_batch(self, pairs: Sequence[tuple[str, str]], *, top_k: int = 0,
                     min_confidence: float | None = None) -> list[Answer]:
        """Answers to (question, context) pairs, computed together (windows batched)."""
        if min_confidence is not None and not self.calibrated:
            raise DataError("min_confidence needs a calibration, but this model has none "
                            "(too few eval questions to fit one, or a bare checkpoint).")
        examples = datasets.Dataset.from_list([
            {"id": str(i), "question": check_text("question", q, where),
             "context": check_text("context", c, where, MAX_CONTEXT_CHARS)}
            for i, (q, c) in enumerate(pairs)
            for where in [f" of pair {i}" if len(pairs) > 1 else ""]])
        features = prepare_eval_features(examples, self.run.tokenizer, self.run.data_cfg)
        start_logits, end_logits = predict_logits(self._trainer, features)
        predictions = decode_answers(
            start_logits, end_logits, features, examples, self.run.data_cfg,
            null_score_diff_threshold=self.run.data_cfg.null_score_diff_threshold,
            keep_candidates=top_k)
        return [self._answer(p, top_k, min_confidence) for p in predictions]

    def _answer(self, prediction: Prediction, top_k: int, min_confidence: float | None
                ) -> Answer:
        value = confidence(self.run, prediction)
        abstained = withheld(prediction.text, value, min_confidence)
        alternatives = [Alternative(c.text, c.start_char, c.end_char, c.probability,
                                    finite(c.score)) for c in prediction.candidates[:top_k]]
        return Answer(
            text="" if abstained else prediction.text,
            start=-1 if abstained else prediction.start_char,
            end=-1 if abstained else prediction.end_char,
            probability=prediction.probability, confidence=value,
            score=finite(prediction.score), abstained=abstained,
            no_answer_probability=prediction.no_answer_probability,
            model_answer=prediction.text, alternatives=alternatives)

    def close(self) -> None:
        """Remove the prediction Trainer's scratch directory."""
        self._open.close()

    def __enter__(self) -> QuestionAnswerer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def check_text(name: str, text: Any, where: str = "", limit: int | None = None) -> str:
    """`text` if it is non-empty valid Unicode text within `limit` characters, else DataError
    naming the field (and `where`, e.g. " of pair 3")."""
    where = f"{name}{where}"
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"The {where} is empty or not text.")
    if not is_unicode_text(text):
        raise DataError(f"The {where} is not valid Unicode text (a lone surrogate).")
    if limit is not None and len(text) > limit:
        raise DataError(f"The {where} has {len(text)} characters; at most {limit} are read.")
    return text
