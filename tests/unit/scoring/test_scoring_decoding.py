"""scoring.decoding: questions whose windows hold no context token, or tokens covering no
character."""

from __future__ import annotations

import numpy as np
import pytest

from qa_experiments.scoring.decoding import postprocess_predictions


def windows(context_tokens: list[list[tuple[int, int]]], length: int = 6):
    """One window per question: CLS and question tokens (offset -1), then its context tokens."""
    offsets = np.full((len(context_tokens), length, 2), -1)
    for i, tokens in enumerate(context_tokens):
        if tokens:
            offsets[i, 2:2 + len(tokens)] = tokens
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, len(context_tokens), length)).astype(np.float32)
    return logits[0], logits[1], offsets, np.zeros(len(context_tokens), dtype=int), \
        np.arange(len(context_tokens))


@pytest.mark.parametrize("version_2", [False, True])
def test_no_question_with_a_context_token_has_the_empty_answer(version_2):
    start, end, offsets, cls, example_index = windows([[], []])
    answers = postprocess_predictions(
        start, end, offsets, cls, example_index, ["\u200b\u200b", "\x00"],
        version_2_with_negative=version_2, keep_candidates=3)
    for answer in answers:
        assert (answer.text, answer.start_char, answer.end_char) == ("", -1, -1)
        assert answer.probability == (1.0 if version_2 else None)
        assert [c.text for c in answer.candidates] == ([""] if version_2 else [])


def test_a_context_without_tokens_beside_one_with_tokens():
    start, end, offsets, cls, example_index = windows([[], [(0, 3)]])
    empty, answered = postprocess_predictions(
        start, end, offsets, cls, example_index, ["\u200b", "Ada"],
        version_2_with_negative=True, null_score_diff_threshold=1e9)
    assert (empty.text, empty.no_answer_probability) == ("", 1.0)
    assert (answered.text, answered.start_char, answered.end_char) == ("Ada", 0, 3)


def test_a_token_covering_no_character_never_answers():
    # " 0" in a byte-level BPE: the space is a token of its own, its offsets trimmed to (1, 1)
    start, end, offsets, cls, example_index = windows([[(1, 1), (1, 2)]])
    start[0, 2], end[0, 2] = 50.0, 50.0  # the model's favourite is the empty token
    [answer] = postprocess_predictions(start, end, offsets, cls, example_index, [" 0"],
                                       keep_candidates=5)
    assert (answer.text, answer.start_char, answer.end_char) == ("0", 1, 2)
    assert all(c.start_char < c.end_char for c in answer.candidates)
