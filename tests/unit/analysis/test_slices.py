"""Every slice assignment of the error-analysis report, on crafted questions."""

from __future__ import annotations

import pytest

from qa_experiments.analysis import slices
from qa_experiments.analysis.slices import (
    SLICERS,
    answer_length,
    answer_position,
    context_length,
    overlap_share,
    question_type,
    score_slice,
    word_overlap,
)


def record(question="What is it?", context="x " * 50, answers=("x",), answer_starts=(0,),
           windows=1, exact_match=0, f1=0.0):
    return {"question": question, "context": context, "answers": list(answers),
            "answer_starts": list(answer_starts), "windows": windows,
            "exact_match": exact_match, "f1": f1}


@pytest.mark.parametrize("question,expected", [
    ("What is the capital of France?", "what"),
    ("In what year did the war end?", "what"),
    ("IN WHAT YEAR did it end?", "what"),
    ("what's the name of the river?", "what"),
    ("Who wrote Hamlet?", "who"),
    ("To whom was the letter sent?", "who"),
    ("Whose army won?", "who"),
    ("When was the treaty signed?", "when"),
    ("The Normans came from where?", "where"),
    ("Why did the empire fall?", "why"),
    ("How many people live there?", "how"),
    ("How did he die?", "how"),
    ("Which river is longest?", "which"),
    ("Name the largest city.", "other"),
    ("Is Paris in France?", "other"),
    ("What country, which was founded in 1776, who led it?", "what"),  # the first wh-word
    ("Somewhat unusual: the whatever question?", "other"),  # words, not substrings
])
def test_question_type_is_the_first_wh_word(question, expected):
    assert question_type(record(question=question)) == expected


@pytest.mark.parametrize("gold,expected", [
    ("Paris", "1 word"), ("New York", "2 words"), ("the Roman Empire", "3 words"),
    ("one two three four", "4-5 words"), ("a b c d e", "4-5 words"),
    ("a b c d e f", "6-10 words"), ("1 2 3 4 5 6 7 8 9 10", "6-10 words"),
    ("1 2 3 4 5 6 7 8 9 10 11", "11+ words"), ("New York-based, 1998", "4-5 words"),
])
def test_answer_length_counts_words_of_the_first_gold(gold, expected):
    assert answer_length(record(answers=[gold, "other gold answer text"])) == expected


def test_unanswerable_questions_have_their_own_bucket():
    unanswerable = record(answers=[], answer_starts=[])
    assert answer_length(unanswerable) == answer_position(unanswerable) == "no answer"


@pytest.mark.parametrize("n_words,expected", [
    (10, "< 100 words"), (99, "< 100 words"), (100, "100-149 words"), (149, "100-149 words"),
    (150, "150-199 words"), (250, "200-299 words"), (300, "300+ words"), (1000, "300+ words"),
])
def test_context_length_buckets(n_words, expected):
    assert context_length(record(context="word " * n_words)) == expected


@pytest.mark.parametrize("n,expected", [(1, "1 window"), (2, "2 windows"), (3, "3+ windows"),
                                        (7, "3+ windows")])
def test_windows_buckets(n, expected):
    assert slices.windows(record(windows=n)) == expected


@pytest.mark.parametrize("start,expected", [
    (0, "1st quarter"), (24, "1st quarter"), (25, "2nd quarter"), (49, "2nd quarter"),
    (50, "3rd quarter"), (75, "4th quarter"), (99, "4th quarter"),
])
def test_answer_position_is_the_share_of_the_context_before_the_gold(start, expected):
    assert answer_position(record(context="c" * 100, answer_starts=[start, 0])) == expected


def test_word_overlap_counts_distinct_content_words_case_insensitively():
    context = "The Normans were a people from Normandy in France."
    assert overlap_share("Where were the NORMANS from?", context) == 1.0  # only "normans"
    assert overlap_share("Which people lived in Normandy and Scotland?", context) == 2 / 4
    assert overlap_share("Who is it?", context) == 1.0  # no content word: nothing to miss
    assert word_overlap(record(question="Did Normans eat apples or pears?",
                               context=context)) == "25-49%"  # 1 of 4: normans
    assert word_overlap(record(question="Did vikings eat apples or pears?",
                               context=context)) == "< 25%"
    assert word_overlap(record(question="Normans, Normandy and France: apples?",
                               context=context)) == "75%+"
    assert word_overlap(record(question="Normans from Normandy eat pears?",
                               context=context)) == "50-74%"


def test_every_slicer_assigns_one_of_its_own_labels():
    crafted = [record(), record(answers=[], answer_starts=[]), record(windows=5),
               record(question="Why?", context="word " * 400, answer_starts=[1900])]
    for slicer in SLICERS:
        for r in crafted:
            assert slicer.assign(r) in slicer.labels, slicer.name


def test_slice_scores_are_percent_means_per_bucket_in_label_order():
    records = [record(question="Who?", exact_match=1, f1=1.0),
               record(question="Who is he?", exact_match=0, f1=0.5),
               record(question="Why?", exact_match=0, f1=0.25)]
    (kind,) = [s for s in SLICERS if s.name == "question_type"]
    scores = {b.label: b for b in score_slice(records, kind)}
    assert [b.label for b in score_slice(records, kind)] == list(kind.labels)
    assert (scores["who"].count, scores["who"].exact_match, scores["who"].f1) == (2, 50.0, 75.0)
    assert (scores["why"].count, scores["why"].f1) == (1, 25.0)
    assert (scores["what"].count, scores["what"].f1) == (0, None)
