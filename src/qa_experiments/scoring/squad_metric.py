"""SQuAD v1.1 / v2.0 answer scoring: exact match and token F1.

A re-implementation of the algorithm of the official evaluation scripts
(``evaluate-v1.1.py`` and ``evaluate-v2.0.py``). Answers are normalised
(lower-cased, ASCII punctuation removed, the articles a/an/the removed,
whitespace collapsed) and compared by exact match and by bag-of-tokens F1,
taking the maximum over each question's gold answers. Aggregate scores are
percentages (0-100). Plain Python: no third-party imports.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "exact_match",
    "normalize_answer",
    "question_scores",
    "score_squad",
    "score_squad_v2",
    "token_f1",
    "token_f1_v1",
]

_STRIP_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower-case, drop ASCII punctuation and articles, collapse whitespace."""
    text = text.lower().translate(_STRIP_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 if the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 (0..1) of the normalised strings, by the v2.0 script's rule: if either
    side has no tokens after normalisation, 1.0 when both are empty, else 0.0."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    return _overlap_f1(pred_tokens, gold_tokens)


def token_f1_v1(prediction: str, gold: str) -> float:
    """Token-overlap F1 (0..1) by the v1.1 script's rule: no shared token scores 0.0, also when
    both sides normalise to nothing (dev-v1.1 has gold answers such as ".")."""
    return _overlap_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def _overlap_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def _best(metric: Callable[[str, str], float], prediction: str, golds: Sequence[str]) -> float:
    return max(metric(prediction, gold) for gold in golds)


def _percent(scores: Sequence[float]) -> float:
    return 100.0 * sum(scores) / len(scores)


def question_scores(
    prediction: str, golds: Sequence[str], version_2: bool
) -> tuple[float, float]:
    """Exact match (0/1) and F1 (0..1) of one prediction against its gold answers, by the
    v2.0 script's rule when ``version_2`` (an empty gold list or golds that all normalise to
    nothing mean "" is right) and by the v1.1 script's rule otherwise (golds must be given)."""
    if version_2:
        golds = [g for g in golds if normalize_answer(g)] or [""]
        return _best(exact_match, prediction, golds), _best(token_f1, prediction, golds)
    return _best(exact_match, prediction, golds), _best(token_f1_v1, prediction, golds)


def _per_question(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]], version_2: bool
) -> tuple[list[float], list[float]]:
    """Per-question (EM, F1) lists in reference order; a missing prediction scores 0."""
    ems: list[float] = []
    f1s: list[float] = []
    for qid, golds in references.items():
        em, f1 = question_scores(predictions[qid], golds, version_2) if qid in predictions \
            else (0.0, 0.0)
        ems.append(em)
        f1s.append(f1)
    return ems, f1s


def score_squad(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """SQuAD v1.1 scores over the questions in ``references``.

    ``predictions`` maps question id to answer text; ``references`` maps question
    id to its gold answer texts (at least one each). A question without a
    prediction scores 0; predictions for ids not in ``references`` are ignored.
    F1 follows the v1.1 script (``token_f1_v1``). Returns ``{"exact_match": pct, "f1": pct}``.
    """
    if not references:
        raise ValueError("references is empty: nothing to score")
    no_gold = [qid for qid, golds in references.items() if len(golds) == 0]
    if no_gold:
        raise ValueError(
            f"{len(no_gold)} reference(s) have no gold answer (e.g. {no_gold[:5]}); "
            "SQuAD v1.1 has no unanswerable questions, use score_squad_v2"
        )
    ems, f1s = _per_question(predictions, references, version_2=False)
    return {"exact_match": _percent(ems), "f1": _percent(f1s)}


def score_squad_v2(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, float | int]:
    """SQuAD v2.0 scores with the HasAns / NoAns breakdown.

    An empty gold list marks an unanswerable question, scored against ``[""]``
    (so the empty prediction is correct). As in the official script, gold
    answers that normalise to nothing (e.g. ``"."``) are dropped, falling back
    to ``[""]`` if none remain, while HasAns still follows the raw gold list.
    A question without a prediction scores 0 (the official script drops it
    from the total or crashes). Returns ``exact_match``, ``f1``, ``total`` and
    the same three keys prefixed ``HasAns_`` / ``NoAns_``, the latter groups
    only when non-empty; scores in percent, totals as ints.
    """
    if not references:
        raise ValueError("references is empty: nothing to score")
    ems, f1s = _per_question(predictions, references, version_2=True)
    result: dict[str, float | int] = {
        "exact_match": _percent(ems),
        "f1": _percent(f1s),
        "total": len(ems),
    }
    has_ans = [len(golds) > 0 for golds in references.values()]
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        group = [i for i, flag in enumerate(has_ans) if flag is wanted]
        if group:
            result[f"{prefix}_exact_match"] = _percent([ems[i] for i in group])
            result[f"{prefix}_f1"] = _percent([f1s[i] for i in group])
            result[f"{prefix}_total"] = len(group)
    return result
