"""inference.answerer: the arguments QuestionAnswerer takes, each misuse one clear error, and
answering without progress bars."""

from __future__ import annotations

import datasets
import pytest
from transformers.utils import logging as transformers_logging

from qa_experiments.errors import UserError
from qa_experiments.inference.answerer import (
    AnswerArgumentError,
    AnswerTypeError,
    QuestionAnswerer,
)
from qa_experiments.inference.predictor import RunLoadError

QUESTION = "Who wrote the book?"
CONTEXT = "The book was written by Jane Austen in 1813."


def test_no_pairs_have_no_answers(answerer):
    assert answerer.answer_batch([]) == []


@pytest.mark.parametrize("pairs", [
    [{"question": QUESTION, "context": CONTEXT}],  # a dict would be read as its two keys
    [(QUESTION, CONTEXT, "extra")],
    [QUESTION],
    [(QUESTION, 3)],
    "ab",
    {"question": QUESTION, "context": CONTEXT},
])
def test_anything_but_question_context_pairs_is_a_type_error(answerer, pairs):
    with pytest.raises(AnswerTypeError, match="(question, context)") as refused:
        answerer.answer_batch(pairs)
    assert isinstance(refused.value, TypeError) and isinstance(refused.value, UserError)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("arguments,error,message", [
    ({"top_k": "3"}, AnswerTypeError, "top_k must be an int >= 0, not str"),
    ({"top_k": 2.5}, AnswerTypeError, "top_k must be an int >= 0, not float"),
    ({"top_k": True}, AnswerTypeError, "top_k must be an int >= 0, not bool"),
    ({"top_k": -1}, AnswerArgumentError, "top_k must be an int >= 0, not -1"),
    ({"min_confidence": "0.5"}, AnswerTypeError, "min_confidence must be a probability"),
    ({"min_confidence": 2.0}, AnswerArgumentError, r"in \[0, 1\], not 2.0"),
    ({"min_confidence": -0.1}, AnswerArgumentError, r"in \[0, 1\], not -0.1"),
    ({"min_confidence": float("nan")}, AnswerArgumentError, r"in \[0, 1\], not nan"),
])
def test_answering_arguments_are_checked(answerer, arguments, error, message):
    base = TypeError if error is AnswerTypeError else ValueError
    with pytest.raises(error, match=message) as refused:
        answerer.answer(QUESTION, CONTEXT, **arguments)
    assert isinstance(refused.value, base) and isinstance(refused.value, UserError)


@pytest.mark.parametrize("arguments,error,message", [
    ({"null_threshold": "0.5"}, AnswerTypeError, "null_threshold must be a finite number"),
    ({"null_threshold": [1.0]}, AnswerTypeError, "not list"),
    ({"null_threshold": float("nan")}, AnswerArgumentError, "not nan"),
    ({"null_threshold": float("inf")}, AnswerArgumentError, "not inf"),
    ({"precision": "fp16"}, AnswerArgumentError, "precision must be one of 'fp32', 'int8'"),
    ({"precision": 8}, AnswerTypeError, "not int"),
    # a precision chooses between an export's files; a run or model directory has one model
    ({"precision": "int8"}, RunLoadError, "is not one; leave it out"),
])
def test_loading_arguments_are_checked(tiny_model_dir, arguments, error, message):
    with pytest.raises(error, match=message):
        QuestionAnswerer.load(tiny_model_dir, **arguments)


@pytest.fixture
def progress_bars_on():
    """Datasets' and Transformers' progress bars on (training in the same process turns
    Transformers' off), as in a user's fresh interpreter; restored after."""
    before = datasets.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled()
    datasets.enable_progress_bars()
    transformers_logging.enable_progress_bar()
    yield
    (datasets.enable_progress_bars if before[0] else datasets.disable_progress_bars)()
    (transformers_logging.enable_progress_bar if before[1]
     else transformers_logging.disable_progress_bar)()


def test_loading_and_answering_show_no_progress_bars(tiny_model_dir, progress_bars_on, capfd):
    with QuestionAnswerer.load(tiny_model_dir) as answerer:
        answer = answerer.answer(QUESTION, CONTEXT)
    assert answer.text == CONTEXT[answer.start:answer.end]
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")
    # and the bars are back for what the program does next (training shows its own)
    assert datasets.is_progress_bar_enabled() and transformers_logging.is_progress_bar_enabled()
