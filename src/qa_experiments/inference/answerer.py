"""The Python answering API: load a trained model once, then answer one question or a batch.

    from qa_experiments.inference.answerer import QuestionAnswerer

    qa = QuestionAnswerer.load("outputs/2026-12-05/10-00-00")   # a run, checkpoint or model dir
    answer = qa.answer("Who wrote it?", "It was written by Ada.", top_k=3)
    answer.text, answer.start, answer.end, answer.probability, answer.confidence

Contexts of any length are cut into windows as in training; decoding, probabilities, the
calibrated confidence and the SQuAD v2 no-answer threshold are the run's own (the functions
`qa-evaluate` uses), so every surface (this API, `qa-predict`, `qa-serve`) gives the same answer.

Any text is answered: a context the tokenizer keeps no token of (zero-width or control
characters only) has no possible span, so its answer is "" with start = end = -1, as when the
model answers "no answer". A mistake raises a `UserError` with a one-line message: unusable
text (`DataError`), an argument of the wrong type (`AnswerTypeError`, also a `TypeError`) or
out of its range (`AnswerArgumentError`, also a `ValueError`). No progress bars are shown.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from qa_experiments.config.schema import AUTO_THRESHOLD
from qa_experiments.data.splits import MAX_CONTEXT_CHARS
from qa_experiments.data.squad_files import DataError, is_unicode_text
from qa_experiments.data.windows import prepare_eval_features
from qa_experiments.errors import UserError
from qa_experiments.evaluation.model_eval import (
    MODEL_INPUTS,
    decode_answers,
    predict_logits,
)
from qa_experiments.inference.predictor import (
    LoadedRun,
    confidence,
    load_run,
    prediction_trainer,
)
from qa_experiments.model.progress import no_progress_bars
from qa_experiments.scoring.decoding import Prediction

PRECISIONS = ("fp32", "int8")


class AnswerTypeError(UserError, TypeError):
    """An argument of the wrong type (the message names it and what it takes)."""


class AnswerArgumentError(UserError, ValueError):
    """An argument out of its range (the message names it and what it takes)."""


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


class Pending:
    """Pairs cut into windows by `QuestionAnswerer.prepare`, waiting for the logits of their
    windows (`predict`) before they are decoded (`decode`)."""

    def __init__(self, examples: datasets.Dataset | None, features: datasets.Dataset | None,
                 lengths: np.ndarray, top_k: int, min_confidence: float | None):
        self.examples = examples
        self.features = features
        self.top_k = top_k
        self.min_confidence = min_confidence
        # The windows in the order they are predicted: shortest first, as predict_logits runs
        # them, so that parts of whole batches are batched as in one call.
        self.order = np.argsort(lengths, kind="stable")
        self.window_tokens = lengths[self.order]  # each window's tokens, in that order
        self.predicted = 0  # how many windows of `order` have their logits
        width = max((len(ids) for ids in features["input_ids"]), default=0) \
            if features is not None else 0
        # Positions past a window's own tokens stay at predict_logits' -1e4.
        self.start_logits = np.full((len(lengths), width), -1e4, dtype=np.float32)
        self.end_logits = self.start_logits.copy()
        self.model_columns = [c for c in MODEL_INPUTS
                              if features is not None and c in features.column_names]
        self.model_columns.append("length")

    @property
    def windows_left(self) -> int:
        return len(self.order) - self.predicted

    def next_windows(self, count: int) -> np.ndarray:
        """The rows of the next `count` windows to predict (fewer when fewer are left)."""
        return self.order[self.predicted:self.predicted + count]

    def store(self, rows: np.ndarray, start_logits: np.ndarray, end_logits: np.ndarray
              ) -> None:
        """Keep the logits of the windows `rows` (the next ones, from `next_windows`)."""
        width = min(self.start_logits.shape[1], start_logits.shape[1])
        self.start_logits[rows, :width] = start_logits[:, :width]
        self.end_logits[rows, :width] = end_logits[:, :width]
        self.predicted += len(rows)


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
        (`precision` fp32 or int8, for an export only; `null_threshold` a number or "auto",
        for a SQuAD v2 model only; see predictor.load_run)."""
        if null_threshold is not None and not (isinstance(null_threshold, str)
                                               and null_threshold == AUTO_THRESHOLD):
            null_threshold = check_number("null_threshold", null_threshold,
                                          f"a finite number or {AUTO_THRESHOLD!r}")
        if precision is not None:
            check_precision(precision)
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
        """Answers to (question, context) pairs (tuples or lists of two strings), computed
        together (windows batched); [] for no pairs. `top_k`: how many alternatives
        (an int >= 0); `min_confidence`: None or a probability in [0, 1]."""
        pending = self.prepare(pairs, top_k=top_k, min_confidence=min_confidence)
        self.predict([(pending, pending.windows_left)])
        return self.decode(pending)

    def prepare(self, pairs: Sequence[tuple[str, str]], *, top_k: int = 0,
                min_confidence: float | None = None) -> Pending:
        """The first stage of `answer_batch`: the arguments checked (as there) and the pairs
        cut into windows, whose logits `predict` computes, in as many steps as wanted, before
        `decode` gives the answers (qa-serve interleaves the windows of several requests so)."""
        pairs = check_pairs(pairs)
        top_k = check_top_k(top_k)
        if min_confidence is not None:
            min_confidence = check_number("min_confidence", min_confidence,
                                          "a probability in [0, 1]", low=0.0, high=1.0)
            if not self.calibrated:
                raise DataError("min_confidence needs a calibration, but this model has none "
                                "(too few eval questions to fit one, or a bare checkpoint).")
        if not pairs:
            return Pending(None, None, np.zeros(0, dtype=np.int64), top_k, min_confidence)
        examples = datasets.Dataset.from_list([
            {"id": str(i), "question": check_text("question", q, where),
             "context": check_text("context", c, where, MAX_CONTEXT_CHARS)}
            for i, (q, c) in enumerate(pairs)
            for where in [f" of pair {i}" if len(pairs) > 1 else ""]])
        with no_progress_bars():
            features = prepare_eval_features(examples, self.run.tokenizer, self.run.data_cfg)
        return Pending(examples, features, np.asarray(features["length"], dtype=np.int64),
                       top_k, min_confidence)

    def predict(self, work: Sequence[tuple[Pending, int]]) -> None:
        """The logits of the next `count` windows of each Pending in `work`, computed by the
        model together. A Pending's windows go shortest first, as `answer_batch` runs them,
        so predicting them in parts of whole prediction batches (`run.eval_batch_size`
        windows; any part for an ONNX export, which runs windows one by one) gives the same
        logits as one call."""
        parts = [(pending, pending.next_windows(count)) for pending, count in work if count]
        if not parts:
            return
        inputs = datasets.concatenate_datasets(
            [pending.features.select(rows).select_columns(pending.model_columns)
             for pending, rows in parts])
        start_logits, end_logits = predict_logits(self._trainer, inputs)
        first = 0
        for pending, rows in parts:
            pending.store(rows, start_logits[first:first + len(rows)],
                          end_logits[first:first + len(rows)])
            first += len(rows)

    def decode(self, pending: Pending) -> list[Answer]:
        """The last stage of `answer_batch`: the answers, once `predict` has computed the
        logits of every window of `pending`."""
        if pending.windows_left:
            raise ValueError(f"{pending.windows_left} windows have no logits yet; predict them "
                             "first.")
        if pending.examples is None:
            return []
        data_cfg = self.run.data_cfg
        predictions = decode_answers(
            pending.start_logits, pending.end_logits, pending.features, pending.examples,
            data_cfg, null_score_diff_threshold=data_cfg.null_score_diff_threshold,
            keep_candidates=pending.top_k)
        return [self._answer(p, pending.top_k, pending.min_confidence) for p in predictions]

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


def check_pairs(pairs: Any) -> list[tuple[str, str]]:
    """`pairs` as a list of (question, context) string pairs, else AnswerTypeError (a dict
    or a string would otherwise be read item by item)."""
    if isinstance(pairs, (str, bytes, dict)) or not isinstance(pairs, Sequence):
        raise AnswerTypeError(f"pairs must be a list of (question, context) tuples, not "
                              f"{type(pairs).__name__}.")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(isinstance(text, str) for text in pair)):
            raise AnswerTypeError(
                f"Pair {i} is not a (question, context) tuple of two strings but "
                f"{short(pair)}; give answer_batch([(question, context), ...]).")
    return [tuple(pair) for pair in pairs]


def check_precision(precision: Any) -> None:
    """AnswerTypeError / AnswerArgumentError unless `precision` is one of PRECISIONS."""
    what = f"one of {', '.join(map(repr, PRECISIONS))} (or None: int8 when exported)"
    if not isinstance(precision, str):
        raise AnswerTypeError(f"precision must be {what}, not {type(precision).__name__}.")
    if precision not in PRECISIONS:
        raise AnswerArgumentError(f"precision must be {what}, not {short(precision)}.")


def check_top_k(top_k: Any) -> int:
    """`top_k` as an int >= 0, else AnswerTypeError / AnswerArgumentError."""
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral):
        raise AnswerTypeError(f"top_k must be an int >= 0, not {type(top_k).__name__}.")
    if top_k < 0:
        raise AnswerArgumentError(f"top_k must be an int >= 0, not {int(top_k)}.")
    return int(top_k)


def check_number(name: str, value: Any, what: str, low: float = -math.inf,
                 high: float = math.inf) -> float:
    """`value` as a finite float in [low, high], else AnswerTypeError / AnswerArgumentError
    saying that `name` must be `what`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise AnswerTypeError(f"{name} must be {what}, not {type(value).__name__}.")
    if not (math.isfinite(value) and low <= value <= high):
        raise AnswerArgumentError(f"{name} must be {what}, not {float(value)}.")
    return float(value)


def short(value: Any, limit: int = 60) -> str:
    """`value`'s repr on one line, cut to `limit` characters (it may be a whole document)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
