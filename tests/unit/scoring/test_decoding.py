"""Vectorised post-processing picks exactly what the straightforward per-window loop picks."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.reference_decoding import loop_reference
from qa_experiments.scoring.decoding import postprocess_predictions


def random_windows(rng, n_examples, length):
    contexts, example_index, offsets, cls_index = [], [], [], []
    for ex in range(n_examples):
        words = [f"w{ex}x{i}" for i in range(rng.integers(5, 60))]
        context = " ".join(words)
        contexts.append(context)
        positions, cursor = [], 0
        for w in words:
            positions.append((cursor, cursor + len(w)))
            cursor += len(w) + 1
        for _ in range(rng.integers(1, 4)):  # 1-3 windows per example
            window = np.full((length, 2), -1)
            first = rng.integers(3, 8)  # CLS + question tokens come first
            take = positions[rng.integers(0, len(positions)) :][: length - first - 1]
            window[first : first + len(take)] = take
            offsets.append(window)
            example_index.append(ex)
            cls_index.append(0)
    n = len(offsets)
    return (
        rng.normal(size=(n, length)).astype(np.float32),
        rng.normal(size=(n, length)).astype(np.float32),
        np.stack(offsets),
        np.array(cls_index),
        np.array(example_index),
        contexts,
    )


@pytest.mark.parametrize("v2,threshold", [(False, 0.0), (True, 0.0), (True, 1.5)])
@pytest.mark.parametrize("seed", range(4))
def test_matches_loop_reference_on_random_logits(v2, threshold, seed):
    rng = np.random.default_rng(seed)
    start, end, offsets, cls, example_index, contexts = random_windows(rng, 120, 48)
    ours = postprocess_predictions(
        start, end, offsets, cls, example_index, contexts, n_best_size=20,
        max_answer_length=8, version_2_with_negative=v2, null_score_diff_threshold=threshold,
    )
    reference = loop_reference(
        start, end, offsets, cls, example_index, contexts, n_best=20, max_len=8, v2=v2,
        threshold=threshold,
    )
    assert [p.text for p in ours] == reference
    if v2:
        assert any(p.text == "" for p in ours) and any(p.text for p in ours)


def test_hand_worked_two_windows():
    context = "Ada Lovelace wrote the first program"
    #           0   4        13    19  23    29
    offsets = np.full((2, 6, 2), -1)
    offsets[0, 1:4] = [(0, 3), (4, 12), (13, 18)]  # window 1: "Ada Lovelace wrote"
    offsets[1, 1:4] = [(19, 22), (23, 28), (29, 36)]  # window 2: "the first program"
    start = np.full((2, 6), -5.0)
    end = np.full((2, 6), -5.0)
    start[0, 1], end[0, 2] = 2.0, 2.0  # "Ada Lovelace", score 4
    start[1, 2], end[1, 3] = 3.0, 3.0  # "first program", score 6: the best
    end[1, 1] = 9.0  # with the best start (token 2) it would end before it: no candidate
    (answer,) = postprocess_predictions(start, end, offsets, np.zeros(2, int), np.zeros(2, int),
                                        [context], n_best_size=20, max_answer_length=30)
    assert (answer.text, answer.score) == ("first program", 6.0)
    assert (answer.start_char, answer.end_char) == (23, 36)
    # SQuAD v2: a CLS score of 3.5 + 3.5 = 7 beats the best span (6): no answer.
    start[:, 0] = end[:, 0] = 3.5
    (answer,) = postprocess_predictions(start, end, offsets, np.zeros(2, int), np.zeros(2, int),
                                        [context], version_2_with_negative=True)
    assert answer.text == ""
    (answer,) = postprocess_predictions(start, end, offsets, np.zeros(2, int), np.zeros(2, int),
                                        [context], version_2_with_negative=True,
                                        null_score_diff_threshold=1.5)
    assert answer.text == "first program"


def test_max_answer_length_is_respected():
    context = "one two three four"
    offsets = np.full((1, 5, 2), -1)
    offsets[0, 1:5] = [(0, 3), (4, 7), (8, 13), (14, 18)]
    start = np.array([[0, 5.0, 0, 0, 0]])
    end = np.array([[0, 0, 0, 0, 5.0]])
    (answer,) = postprocess_predictions(start, end, offsets, np.zeros(1, int), np.zeros(1, int),
                                        [context], max_answer_length=3)
    assert len(answer.text.split()) <= 3


def one_token_windows():
    """Three windows of CLS + one context token over "alpha beta gamma": alpha, beta, beta
    (overlapping windows both hold "beta")."""
    context = "alpha beta gamma"
    offsets = np.full((3, 2, 2), -1)
    offsets[:, 1] = [(0, 5), (6, 10), (6, 10)]
    start = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 1.5]])  # CLS, context token
    end = start.copy()
    # span scores: alpha 2 (window 0), beta 1 (window 1) and 3 (window 2); CLS: 0, 1, 2
    return start, end, offsets, np.zeros(3, int), np.zeros(3, int), [context]


def test_probabilities_are_one_softmax_over_the_questions_windows():
    start, end, offsets, cls, example_index, contexts = one_token_windows()
    (answer,) = postprocess_predictions(start, end, offsets, cls, example_index, contexts,
                                        keep_candidates=5)
    z = np.exp(3) + np.exp(2)  # beta counts once, with its best score (3)
    assert (answer.text, answer.score) == ("beta", 3.0)
    assert answer.probability == pytest.approx(np.exp(3) / z)
    assert answer.no_answer_probability is None
    assert [(c.text, c.start_char, c.end_char) for c in answer.candidates] == [
        ("beta", 6, 10), ("alpha", 0, 5)]
    assert [c.probability for c in answer.candidates] == pytest.approx(
        [np.exp(3) / z, np.exp(2) / z])


def test_v2_probabilities_include_no_answer_with_the_smallest_cls_score():
    start, end, offsets, cls, example_index, contexts = one_token_windows()
    z = np.exp(3) + np.exp(2) + np.exp(0)  # null score: min(0, 1, 2) = 0
    (answer,) = postprocess_predictions(start, end, offsets, cls, example_index, contexts,
                                        version_2_with_negative=True, keep_candidates=2)
    assert answer.text == "beta" and answer.probability == pytest.approx(np.exp(3) / z)
    assert answer.no_answer_probability == pytest.approx(1 / z)
    assert [c.text for c in answer.candidates] == ["beta", "alpha"]  # keep_candidates=2
    # null - best = -3 > -3.5: no answer, with the no-answer probability; best span kept
    (abstain,) = postprocess_predictions(start, end, offsets, cls, example_index, contexts,
                                         version_2_with_negative=True, keep_candidates=5,
                                         null_score_diff_threshold=-3.5)
    assert (abstain.text, abstain.start_char, abstain.best_span) == ("", -1, "beta")
    assert abstain.probability == abstain.no_answer_probability == pytest.approx(1 / z)
    assert [c.text for c in abstain.candidates] == ["beta", "alpha", ""]
    assert sum(c.probability for c in abstain.candidates) == pytest.approx(1.0)


def loop_nbest(start, end, offsets, cls_index, example_index, contexts, *, n_best, max_len, v2):
    """Each question's candidates with probabilities, as plain loops: every valid pair of
    every window, one per character span (best score), the n_best best, plus no answer."""
    result = []
    for ex, context in enumerate(contexts):
        spans, null = {}, None
        for f in np.flatnonzero(example_index == ex):
            feature_null = start[f, cls_index[f]] + end[f, cls_index[f]]
            null = feature_null if null is None else min(null, feature_null)
            for s in np.argsort(start[f])[-1: -n_best - 1: -1]:
                for e in np.argsort(end[f])[-1: -n_best - 1: -1]:
                    if offsets[f, s, 0] < 0 or offsets[f, e, 0] < 0 or not 0 <= e - s < max_len:
                        continue
                    key = (int(offsets[f, s, 0]), int(offsets[f, e, 1]))
                    spans[key] = max(spans.get(key, -np.inf), float(start[f, s] + end[f, e]))
        best = sorted(spans.items(), key=lambda item: -item[1])[:n_best]
        scored = [(context[a:b], score) for (a, b), score in best]
        if v2:
            scored.append(("", float(null)))
        total = sum(np.exp(score) for _, score in scored)
        result.append({text: np.exp(score) / total for text, score in scored})
    return result


@pytest.mark.parametrize("v2", [False, True])
def test_candidate_probabilities_match_a_loop_softmax_on_random_logits(v2):
    rng = np.random.default_rng(7)
    start, end, offsets, cls, example_index, contexts = random_windows(rng, 60, 48)
    ours = postprocess_predictions(start, end, offsets, cls, example_index, contexts,
                                   n_best_size=6, max_answer_length=8,
                                   version_2_with_negative=v2, keep_candidates=7)
    reference = loop_nbest(start, end, offsets, cls, example_index, contexts, n_best=6,
                           max_len=8, v2=v2)
    for prediction, expected in zip(ours, reference, strict=True):
        got = {c.text: c.probability for c in prediction.candidates}
        assert got == pytest.approx(expected)
        if not expected:  # SQuAD v1.1, no valid span in any window
            assert (prediction.text, prediction.probability) == ("", None)
            continue
        assert sum(got.values()) == pytest.approx(1.0)
        assert prediction.probability == pytest.approx(expected[prediction.text])
