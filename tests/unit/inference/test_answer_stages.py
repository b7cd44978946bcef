"""`answer_batch` is its stages run at once (prepare, predict, decode), and running them in
parts gives the same answers: what qa-serve's batcher relies on to interleave requests. Checked
by Hypothesis (bounded, derandomized) on a tiny random model and on its ONNX export."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.onnx_backend import export_onnx
from qa_experiments.inference.predictor import load_run

TEXT = ("The book was written by Jane Austen in 1813 and published in London. Ada Lovelace "
        "wrote the first program for the Analytical Engine. Paris is the capital of France. ")
PROPERTY = settings(max_examples=8, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# Contexts of one to about six windows of 384 tokens, and short ones of other words.
CONTEXT = st.one_of(
    st.builds(lambda repeats, cut: (TEXT * repeats)[cut:], st.integers(1, 30),
              st.integers(0, 40)),
    st.text(st.sampled_from("abc XYZ,.1\u00e9\U0001f600"), max_size=80).filter(str.strip))
PAIRS = st.lists(st.tuples(st.sampled_from(["Who wrote the book?", "Where is Paris?", "When?"]),
                           CONTEXT), min_size=1, max_size=3)


def staged(answerer, pairs, parts, **options):
    """The answers of `pairs` with their windows predicted `parts[i]` at a time (cycling)."""
    pending = answerer.prepare(pairs, **options)
    step = 0
    while pending.windows_left:
        answerer.predict([(pending, parts[step % len(parts)])])
        step += 1
    return answerer.decode(pending)


@pytest.fixture(scope="module")
def small_batches(tiny_model_dir):
    """The tiny model predicting 2 windows a batch, so that a request has many batches."""
    run = dataclasses.replace(load_run(tiny_model_dir), eval_batch_size=2)
    with QuestionAnswerer(run) as answerer:
        yield answerer


@pytest.fixture(scope="module")
def exported(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "onnx"
    export_onnx(load_run(tiny_model_dir), out)
    with QuestionAnswerer.load(out, precision="fp32") as answerer:
        yield answerer


@PROPERTY
@given(pairs=PAIRS, batches=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       top_k=st.integers(0, 3))
def test_windows_predicted_in_whole_batches_give_the_one_call_answers(small_batches, pairs,
                                                                       batches, top_k):
    parts = [batch * small_batches.run.eval_batch_size for batch in batches]
    assert staged(small_batches, pairs, parts, top_k=top_k) == small_batches.answer_batch(
        pairs, top_k=top_k)


@PROPERTY
@given(first=PAIRS, second=PAIRS, parts=st.lists(st.integers(1, 7), min_size=2, max_size=6))
def test_an_export_gives_the_one_call_answers_however_windows_are_interleaved(exported, first,
                                                                              second, parts):
    """An export runs each window on its own: any parts, and windows of two requests predicted
    together in one call, give each request the answers answer_batch gives it alone."""
    pendings = [exported.prepare(first, top_k=2), exported.prepare(second)]
    step = 0
    while any(p.windows_left for p in pendings):
        exported.predict([(p, parts[(step + i) % len(parts)]) for i, p in enumerate(pendings)])
        step += 1
    assert exported.decode(pendings[0]) == exported.answer_batch(first, top_k=2)
    assert exported.decode(pendings[1]) == exported.answer_batch(second)


def test_decoding_before_every_window_has_its_logits_is_refused(answerer):
    pending = answerer.prepare([("Who?", TEXT * 40)])
    assert pending.windows_left > 1
    answerer.predict([(pending, 1)])
    with pytest.raises(ValueError, match="windows have no logits yet"):
        answerer.decode(pending)
