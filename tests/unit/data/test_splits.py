"""The bundled SQuAD v2 dev split (disjoint, the official records unmodified) and limits that
keep the mix of answerable and unanswerable questions."""

from __future__ import annotations

from qa_experiments.config.paths import BUNDLED_DATA_DIR
from qa_experiments.data.splits import limit_keeping_mix
from qa_experiments.data.squad_files import read_squad_file
from scripts import build_v2_dev_split as v2_dev_split


def test_split_is_disjoint_by_question_paragraph_and_article(split_files):
    train, held_out = split_files
    for key in ("id", "context", "title"):
        assert not {r[key] for r in train} & {r[key] for r in held_out}, key


def test_held_out_part_is_the_official_dev_records_unmodified(split_files):
    _, held_out = split_files
    official = {r["id"]: r for r in read_squad_file(BUNDLED_DATA_DIR / v2_dev_split.OFFICIAL_DEV)}
    assert all(official[r["id"]] == r for r in held_out)


def example(qid, answerable):
    return {"id": qid, "answers": {"text": ["x"] if answerable else [], "answer_start": []}}


def test_limit_keeps_the_answerable_unanswerable_mix_in_file_order():
    # 8 answerable first, then 2 unanswerable: "first 5" would hold no unanswerable question
    examples = [example(f"a{i}", True) for i in range(8)] + [example("u0", False),
                                                             example("u1", False)]
    kept = [e["id"] for e in limit_keeping_mix(examples, 5)]
    assert kept == ["a0", "a1", "a2", "a3", "u0"]  # 20% unanswerable, as in the file


def test_limit_is_first_n_when_all_questions_are_of_one_kind():
    examples = [example(str(i), True) for i in range(10)]
    assert limit_keeping_mix(examples, 4) == examples[:4]
    assert limit_keeping_mix(examples, None) == examples
    assert limit_keeping_mix(examples, 50) == examples
