"""Any Unicode question and context is answered with a span of the context, or refused in one
line: the property, checked by Hypothesis on tiny random models (a WordPiece and a byte-level
BPE tokenizer; bounded and derandomized, so CI runs the same examples every time)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_experiments.errors import UserError
from qa_experiments.inference.answerer import QuestionAnswerer

# What tokenizers drop, split or normalize: zero-width and format characters, NUL and other
# controls, bidirectional marks and right-to-left scripts, combining marks, whitespace of every
# kind, astral characters (emoji, flags), characters that change length when lowercased, lone
# surrogates.
TRICKY = ("\u200b\u200c\u200d\u2060\ufeff\x00\x01\x7f\u202e\u202d\u200f\u0301\u0300\u20dd"
          " \t\n\r\x0b\x0c\u00a0\u1680\u2028\u2029\u3000\u0085"
          "\U0001f600\U0001f1eb\U0001f1f7\U0001f468\u200d\U0001f469\U00010348"
          "\u05e9\u05dc\u05d5\u05dd\u0627\u0644\u0639\u0631\u0628\u0130\u00df\ufb01\ud800\udfff"
          "Ada wrote 1813.")
TEXT = st.text(st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=60)
PROPERTY = settings(max_examples=100, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", params=["bert", "roberta"])
def any_answerer(request, tiny_model_dirs):
    with QuestionAnswerer.load(tiny_model_dirs[request.param]) as loaded:
        yield loaded


def spans(answer):
    yield answer.text, answer.start, answer.end
    for alternative in answer.alternatives:
        yield alternative.text, alternative.start, alternative.end


@PROPERTY
@given(pairs=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=3),
       top_k=st.integers(0, 3))
def test_an_answer_is_a_span_of_its_context_or_a_one_line_error(any_answerer, pairs, top_k):
    try:
        answers = any_answerer.answer_batch(pairs, top_k=top_k)
    except UserError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert len(answers) == len(pairs)
    for (_, context), answer in zip(pairs, answers):
        for text, start, end in spans(answer):
            if text == "":  # no answer
                assert (start, end) == (-1, -1)
            else:  # code-point offsets, as Python slices the context
                assert 0 <= start < end <= len(context)
                assert text == context[start:end]


@pytest.mark.parametrize("context", ["\u200b" * 5, "\x00\x00", "\u200b\ufeff\u2060"])
def test_a_context_without_tokens_is_answered_with_no_answer(answerer, context):
    answer = answerer.answer("Who wrote it?", context, top_k=2)
    assert (answer.text, answer.start, answer.end, answer.alternatives) == ("", -1, -1, [])
    assert answer.probability is None and not answer.abstained
