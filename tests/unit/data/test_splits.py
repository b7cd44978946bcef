"""Reading SQuAD splits: every layout gives the same records, bad records are counted or refused
with their place, damaged files are one DataError; the bundled SQuAD v2 dev split (disjoint, the
official records unmodified) and limits that keep the mix of answerable and unanswerable
questions."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from qa_experiments.config.paths import BUNDLED_DATA_DIR
from qa_experiments.data.splits import DataError, limit_keeping_mix, load_split
from qa_experiments.data.squad_files import check_readable, read_squad_file
from scripts import build_v2_dev_split as v2_dev_split
from squad_records import CONTEXT, flat, nested, qa, split_cfg, write

HOSTILE_STARTS = [
    (10**26, "answer_outside_context", "answer_start 100000000000000000000000000 of answer 0"),
    (2**63, "answer_outside_context", "answer_start 9223372036854775808 of answer 0"),
    (-5, "answer_outside_context", "answer_start -5 of answer 0 ('Ada Lovelace') is not a "
                                   "position in the 45-character context"),
    (40, "answer_outside_context", "answer_start 40 of answer 0"),
    (1e26, "malformed_answers", "answer_start of answer 0 is a number 1e+26, not an integer"),
    (100.0, "malformed_answers", "answer_start of answer 0 is a number 100.0, not an integer"),
    (3.0, "malformed_answers", "answer_start of answer 0 is a number 3.0"),
    (True, "malformed_answers", "answer_start of answer 0 is a boolean true"),
    ("0", "malformed_answers", "answer_start of answer 0 is text '0'"),
    (None, "malformed_answers", "answer_start of answer 0 is null"),
    ([0], "malformed_answers", "answer_start of answer 0 is a list [0]"),
]


HOSTILE_IDS = [
    (["x"], "malformed_id", "record 1 (0-based): the id is a list [\"x\"]; an id is non-empty "
                            "text"),
    ({"a": 1}, "malformed_id", "the id is an object {\"a\": 1}"),
    (5, "malformed_id", "the id is a number 5"),
    (1.5, "malformed_id", "the id is a number 1.5"),
    (True, "malformed_id", "the id is a boolean true"),
    ("", "malformed_id", "the id is text ''"),
    ("  ", "malformed_id", "the id is text '  '"),
    (None, "missing_field", "record 1 (0-based): no id"),
]


FAILED_READS = ["truncated_gzip", "corrupt_gzip", "bad_gzip_header", "directory", "not_utf8",
                "deep_json"]


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


def test_nested_flat_jsonl_and_gzip_layouts_read_the_same(tmp_path):
    expected = read_squad_file(write(tmp_path / "n.json", nested([qa("a"), qa("b")])))
    records = [flat("a"), flat("b")]
    jsonl = tmp_path / "f.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records))
    gz = tmp_path / "n.json.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as handle:
        json.dump(nested([qa("a"), qa("b")]), handle)
    for path in (write(tmp_path / "f.json", records), write(tmp_path / "d.json", {"data": records}),
                 str(jsonl), str(gz)):
        examples, report = load_split(split_cfg(path), "train")
        assert examples["id"] == ["a", "b"] and report.examples_used == 2
        assert examples[0]["answers"] == {"text": ["Ada Lovelace"], "answer_start": [0]}
        assert examples[0]["context"] == expected[0]["context"]


@pytest.mark.parametrize(
    "content,message",
    [("{not json", "invalid JSON at line 1"), ('{"rows": 3}', "not SQuAD layout"),
     ("", "the file is empty"), (" \n\n", "the file is empty")],
)
def test_unreadable_files_are_refused_with_the_path(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        load_split(split_cfg(str(path)), "train")
    assert "bad.json" in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_split(split_cfg(str(tmp_path / "nope.json")), "train")


def test_non_utf8_file_is_refused(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps(nested([qa("a")])).replace("Ada", "Adà").encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_split(split_cfg(str(path)), "train")


def test_malformed_records_are_counted_and_valid_ones_kept(tmp_path):
    records = nested([
        qa("ok"),
        qa("shifted", start=1),  # off by one character: repaired
        qa("wrong_text", text="Charles Babbage"),
        qa("outside", start=400),
        qa("empty_q", question="  "),
        {"id": "no_answers_field", "question": "Who?"},
        qa("ok"),  # duplicate id
        qa("ok2", text="1843", start=CONTEXT.index("1843")),
    ])
    path = write(tmp_path / "mixed.json", records)
    examples, report = load_split(split_cfg(path), "train")
    assert examples["id"] == ["ok", "shifted", "ok2"]
    assert examples[1]["answers"]["answer_start"] == [0]
    assert report.dropped == {
        "answer_not_at_start": 1, "answer_outside_context": 1, "empty_question": 1,
        "missing_field": 1, "duplicate_id": 1,
    }
    assert report.repaired == {"answer_start_off_by_whitespace": 1}
    assert report.to_dict()["records_read"] == 8
    with pytest.raises(DataError, match="invalid_records=skip"):
        load_split(split_cfg(path, invalid_records="fail"), "train")


@pytest.mark.parametrize("split", ["train", "eval"])
@pytest.mark.parametrize("start,kind,detail", HOSTILE_STARTS,
                         ids=[repr(s) for s, _, _ in HOSTILE_STARTS])
def test_answer_starts_out_of_range_or_of_the_wrong_type_are_refused(tmp_path, split, start,
                                                                     kind, detail):
    bad = flat("bad")
    bad["answers"]["answer_start"] = [start]
    path = write(tmp_path / "starts.json", [flat("a"), bad])
    examples, report = load_split(split_cfg(path), split)
    assert examples["id"] == ["a"] and report.dropped == {kind: 1}
    assert f"first: id 'bad': {detail}" in report.summary()
    with pytest.raises(DataError) as info:
        load_split(split_cfg(path, invalid_records="fail"), split)
    assert str(info.value).startswith(f"{path}: ") and detail in str(info.value)


@pytest.mark.parametrize("split", ["train", "eval"])
def test_every_answer_of_a_record_is_checked_not_only_the_first(tmp_path, split):
    """Dev records hold several answers; a hostile second one crashed the dataset build."""
    bad = qa("bad")
    bad["answers"].append({"text": "1843", "answer_start": 10**26})
    path = write(tmp_path / "second.json", nested([qa("a"), bad]))
    examples, report = load_split(split_cfg(path), split)
    assert examples["id"] == ["a"] and report.dropped == {"answer_outside_context": 1}
    assert "answer_start 100000000000000000000000000 of answer 1 ('1843')" in report.summary()


@pytest.mark.parametrize("require_answers", [True, False], ids=["train/evaluate", "predict"])
@pytest.mark.parametrize("qid,kind,detail", HOSTILE_IDS, ids=[repr(q) for q, _, _ in HOSTILE_IDS])
def test_ids_that_are_not_text_are_refused_never_converted(tmp_path, qid, kind, detail,
                                                          require_answers):
    """A list id became the text "['x']" in predictions.json, which no scorer finds."""
    bad = flat("placeholder")
    bad["id"] = qid
    path = write(tmp_path / "ids.json", [flat("a"), bad, flat("a")])
    examples, report = load_split(split_cfg(path), "eval", require_answers=require_answers)
    assert examples["id"] == ["a"] and report.dropped == {kind: 1, "duplicate_id": 1}
    assert detail in report.summary()
    with pytest.raises(DataError, match=re.escape(detail)):
        load_split(split_cfg(path, invalid_records="fail"), "eval",
                   require_answers=require_answers)


@pytest.mark.parametrize("field,value,detail", [
    ("title", 5, "the title is a number 5, not text"),
    ("title", ["T"], "the title is a list [\"T\"], not text"),
    ("is_impossible", "false", "is_impossible is text 'false', not true or false"),
    ("is_impossible", 1, "is_impossible is a number 1, not true or false"),
])
def test_titles_and_v2_flags_of_the_wrong_type_are_refused(tmp_path, field, value, detail):
    """"false" as text read as true; a number title became its text."""
    bad = {**flat("bad"), field: value}
    path = write(tmp_path / "fields.json", [flat("a"), bad])
    examples, report = load_split(split_cfg(path, version_2_with_negative=True), "eval")
    assert examples["id"] == ["a"] and report.dropped == {"malformed_field": 1}
    assert f"id 'bad': {detail}" in report.summary()


def test_v2_flags_and_unanswerable_questions(tmp_path):
    unanswerable = {"id": "u", "question": "Who?", "answers": [], "is_impossible": True}
    flagged = qa("flag", is_impossible=True)
    path = write(tmp_path / "v2.json", nested([qa("a"), unanswerable, flagged]))
    examples, report = load_split(split_cfg(path, version_2_with_negative=True), "train")
    assert examples["id"] == ["a", "u"] and report.dropped == {"inconsistent_v2_flag": 1}
    # Read as v1.1, the unanswerable question would be dropped and the rest scored as v1.1.
    with pytest.raises(DataError, match="1 of 3 questions have no answer, so this is SQuAD "
                                        "v2.0 data.*data.version_2_with_negative=true"):
        load_split(split_cfg(path), "train")


def test_sample_limits_count_questions(tmp_path):
    path = write(tmp_path / "many.json", [flat(str(i)) for i in range(10)])
    examples, _ = load_split(split_cfg(path, max_train_samples=4, max_eval_samples=3), "train")
    assert len(examples) == 4
    examples, _ = load_split(split_cfg(path, max_train_samples=4, max_eval_samples=3), "eval")
    assert len(examples) == 3


def test_every_broken_level_of_the_nested_layout_is_dropped_and_counted(tmp_path):
    paragraph = {"context": CONTEXT, "qas": [qa("a1")]}
    data = {"data": [
        {"title": "no paragraphs"},  # first: the layout must still be read as nested
        None,
        {"title": "null paragraphs", "paragraphs": None},
        {"title": "text paragraphs", "paragraphs": "oops"},
        {"title": "ok", "paragraphs": [
            paragraph,
            None,
            {"context": CONTEXT},  # no qas
            {"context": CONTEXT, "qas": {"id": "x"}},
            {"context": None, "qas": [qa("null_context")]},
            {"context": CONTEXT, "qas": [
                None, "text", qa("a2"),
                {"id": "null_answers", "question": "Who?", "answers": None},
                {"id": "text_answers", "question": "Who?", "answers": "Ada"},
                {"id": "no_answers", "question": "Who?"},
                {"id": "null_answer", "question": "Who?", "answers": [None]},
                qa("bool_start", start=True),
            ]},
        ]},
    ]}
    examples, report = load_split(split_cfg(write(tmp_path / "broken.json", data)), "train")
    assert examples["id"] == ["a1", "a2"]
    assert report.dropped == {
        "malformed_article": 4, "malformed_paragraph": 3, "malformed_question": 2,
        "missing_field": 3, "malformed_answers": 3,
    }
    assert "data[0]" in report.summary() and "paragraphs[1]" in report.summary()


def test_layout_is_decided_from_the_whole_file(tmp_path):
    data = [{"title": "draft"}, *nested([qa("a"), qa("b")])["data"]]  # first: no paragraphs
    examples, report = load_split(split_cfg(write(tmp_path / "n.json", data)), "train")
    assert examples["id"] == ["a", "b"] and report.dropped == {"malformed_article": 1}


def test_a_file_mixing_articles_and_flat_records_is_refused(tmp_path):
    """Read by the majority layout, the other kind would be dropped whole."""
    records = [flat("a"), *nested([qa("n1"), qa("n2")])["data"], flat("b")]
    with pytest.raises(DataError, match="mixes 1 nested articles .* and 2 flat records"):
        load_split(split_cfg(write(tmp_path / "f.json", records)), "train")


def test_missing_field_is_named_with_an_example_id(tmp_path):
    records = [{"id": f"q{i}", "context": CONTEXT, "question": "Who?"} for i in range(3)]
    with pytest.raises(DataError, match=r"3 missing_field \(first: id 'q0': no answers\)"):
        load_split(split_cfg(write(tmp_path / "no_answers.json", records)), "train")
    examples, _ = load_split(split_cfg(str(tmp_path / "no_answers.json")), "eval",
                             require_answers=False)
    assert examples["id"] == ["q0", "q1", "q2"]


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".json.gz"])
def test_utf8_byte_order_mark_is_accepted(tmp_path, suffix):
    text = ("\n".join(json.dumps(r) for r in [flat("a"), flat("b")]) if suffix == ".jsonl"
            else json.dumps(nested([qa("a"), qa("b")])))
    data = "\ufeff".encode() + text.encode()
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    examples, _ = load_split(split_cfg(str(path)), "train")
    assert examples["id"] == ["a", "b"]


def test_json_lines_bad_line_is_dropped_with_its_real_line_number(tmp_path):
    lines = [json.dumps(flat("a")), "", json.dumps(flat("b")), '{"id": "c", "context": ',
             "[1, 2]", json.dumps(flat("d"))]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    examples, report = load_split(split_cfg(str(path)), "train")
    assert examples["id"] == ["a", "b", "d"]
    assert report.dropped == {"invalid_json": 1, "not_a_record": 1}
    assert report.first_example["invalid_json"] == "line 4: Expecting value at column 24"
    assert report.first_example["not_a_record"] == "line 5: list, not an object"
    assert report.records_read == 5
    with pytest.raises(DataError, match="invalid_json \\(first: line 4: "):
        load_split(split_cfg(str(path), invalid_records="fail"), "train")


def damage(path, how):
    """Write `path` so that reading it fails in the way `how` names."""
    good = gzip.compress(json.dumps(nested([qa("a")])).encode())
    if how == "truncated_gzip":
        path.write_bytes(good[: len(good) // 2])
    elif how == "corrupt_gzip":
        path.write_bytes(good[:12] + bytes(len(good) - 20) + good[-8:])
    elif how == "bad_gzip_header":
        path.write_bytes(b"\x1f\x8bnot gzip at all")
    elif how == "directory":
        path.mkdir()
    elif how == "not_utf8":
        path.write_bytes(gzip.compress("{\"data\": [\"Adà\"]}".encode("latin-1")))
    elif how == "deep_json":
        path.write_bytes(gzip.compress(b"[" * 100_000 + b"]" * 100_000))
    return str(path)


@pytest.mark.parametrize("how", FAILED_READS)
def test_every_failed_read_is_one_data_error(tmp_path, how):
    path = damage(tmp_path / "data.json.gz", how)
    with pytest.raises(DataError, match="data.json.gz") as info:
        load_split(split_cfg(path), "train")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("how", ["truncated_gzip", "corrupt_gzip", "bad_gzip_header",
                                 "directory"])
def test_damaged_files_are_refused_before_a_run_starts(tmp_path, how):
    with pytest.raises(DataError, match="data.json.gz"):
        check_readable(damage(tmp_path / "data.json.gz", how))


def test_lone_surrogates_are_dropped_with_a_reason(tmp_path):
    """JSON can spell a lone surrogate (\\ud800), which is not text: no prediction, record or
    report holding it can be written."""
    path = tmp_path / "s.json"
    good = json.dumps(flat("good"))
    bad = json.dumps(flat("bad")).replace('"Who wrote it?"', '"Who\\ud800 wrote it?"')
    assert "\\ud800" in bad
    path.write_text(f"[{good}, {bad}]")
    examples, report = load_split(split_cfg(str(path)), "train")
    assert examples["id"] == ["good"] and report.dropped == {"invalid_unicode": 1}
    assert "the question holds a lone surrogate" in report.first_example["invalid_unicode"]
