"""Training answers checked against the tokenizer's offsets (data/windows.py): a tokenizer
whose offsets are one character off is refused; every family's own tokenizer maps answers in
text with non-ASCII whitespace, accents, CJK and emoji back to their text; large splits
tokenize in one process per core."""

from __future__ import annotations

import datasets
import pytest
from omegaconf import OmegaConf
from transformers import AutoTokenizer

from helpers import ShiftedOffsets, data_cfg
from qa_experiments.config.schema import DataConfig
from qa_experiments.data.squad_files import DataError
from qa_experiments.data.windows import (
    ALIGNED,
    PARALLEL_MIN_EXAMPLES,
    alignment_report,
    answer_verdict,
    check_alignment,
    prepare_eval_features,
    prepare_train_features,
    tokenization_workers,
)
from qa_experiments.model.tiny_models import ARCHITECTURES, cached_tiny_model

# (context, answer): the answer is found in the context by its text.
HARD_TEXT = [
    ("The café in Zürich\u00a0opened its doors in 1921.", "Zürich"),
    ("Der Preis lag bei 5\u202f000\u2009Euro im Jahr.", "5\u202f000\u2009Euro"),
    ("Jose\u0301 Mari\u0301a wrote the novel in Bogotá.", "Jose\u0301 Mari\u0301a"),
    ("東京は日本の首都です。人口は約1400万人です。", "東京"),
    ("Tokyo\u3000(東京) is the capital of Japan.", "東京"),
    ("We celebrated 🎉🎂 with cake at noon.", "cake"),
    ("The 🚀 launch happened at dawn.", "🚀 launch"),
    ("Ça a été réalisé par Ōtomo Katsuhiro en 1988.", "Ōtomo Katsuhiro"),
    ("Line one.\n\nThe answer\tis\u2028here, after breaks.", "answer\tis\u2028here"),
]
DATA = OmegaConf.structured(DataConfig(name="test", max_seq_length=64, doc_stride=16,
                                       max_question_length=16))


def examples(pairs: list[tuple[str, str]]) -> datasets.Dataset:
    return datasets.Dataset.from_list([
        {"id": str(i), "title": "t", "question": "What is named here?", "context": context,
         "answers": {"text": [answer], "answer_start": [context.index(answer)]}}
        for i, (context, answer) in enumerate(pairs)
    ])


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_family_maps_answers_in_hard_text_back(architecture):
    tokenizer = AutoTokenizer.from_pretrained(cached_tiny_model(architecture))
    features = prepare_train_features(examples(HARD_TEXT), tokenizer, DATA)
    report = alignment_report(features)
    assert (report.answers, report.misaligned, report.example) == (len(HARD_TEXT), 0, None)
    check_alignment(report, architecture)  # no error


def test_offsets_shifted_by_one_character_are_refused():
    tokenizer = ShiftedOffsets(AutoTokenizer.from_pretrained(cached_tiny_model("bert")))
    pairs = [("Paris is the capital and most populous city of France.", "capital"),
             ("Marie Curie won two Nobel prizes.", "Marie Curie"),
             ("The river Thames flows through London.", "London")]
    report = alignment_report(prepare_train_features(examples(pairs), tokenizer, DATA))
    assert (report.answers, report.misaligned) == (3, 3)
    with pytest.raises(DataError) as refused:
        check_alignment(report, "broken-tokenizer")
    message = str(refused.value)
    assert "\n" not in message
    assert "'broken-tokenizer'" in message and "3 of 3" in message and "100.0%" in message
    assert "answer 'capital' at character 13 -> 'apital '" in message


def test_a_share_at_the_limit_is_allowed():
    checks = [ALIGNED] * 49 + ["answer 'x' at character 0 -> 'y'"]  # 2.0%
    report = alignment_report(datasets.Dataset.from_dict({"answer_check": checks + [""]}))
    assert (report.answers, report.misaligned) == (50, 1)
    check_alignment(report, "t")
    worse = alignment_report(datasets.Dataset.from_dict({"answer_check": checks[1:]}))
    with pytest.raises(DataError):
        check_alignment(worse, "t")


def test_verdict_tolerates_whitespace_and_tokens_reaching_into_a_word():
    answers = {"text": ["New  York"], "answer_start": [4]}
    assert answer_verdict(answers, [" New York"]) == ALIGNED
    assert answer_verdict(answers, ["New Yorkers"]) == ALIGNED
    assert answer_verdict(answers, ["ew York"]).endswith("-> 'ew York'")
    assert answer_verdict(answers, []).endswith("-> no window")
    assert answer_verdict({"text": [], "answer_start": []}, []) == ""


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_no_answer_can_start_with_a_space(architecture):
    """DeBERTa-v3's Metaspace tokens count the space before a word in: trimmed off."""
    tokenizer = AutoTokenizer.from_pretrained(cached_tiny_model(architecture))
    pairs = HARD_TEXT + [("Paris is the capital and most populous city of France.", "capital")]
    features = prepare_eval_features(examples(pairs), tokenizer, DATA)
    for window, index in zip(features["offset_mapping"], features["example_index"]):
        context = pairs[index][0]
        assert all(not context[start:end][:1].isspace() for start, end in window), window


def test_large_splits_tokenize_in_one_process_per_core(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(4)), raising=False)
    assert tokenization_workers(data_cfg(), PARALLEL_MIN_EXAMPLES - 1) is None
    assert tokenization_workers(data_cfg(), PARALLEL_MIN_EXAMPLES) == 4
    assert tokenization_workers(data_cfg(preprocessing_num_workers=3), 10) == 3
    assert tokenization_workers(data_cfg(preprocessing_num_workers=1), 10**6) is None
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert tokenization_workers(data_cfg(), 10**6) is None
