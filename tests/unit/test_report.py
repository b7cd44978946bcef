"""qa-report refuses bad input in one line and exit 2: a missing, empty or truncated question
file, a record with a wrong value, an unfinished run, a directory that is not a run."""

from __future__ import annotations

import json

import pytest

from helpers import crafted_run
from qa_experiments import report as report_cli


@pytest.mark.parametrize("content,message", [
    (None, "does not exist"),
    ("", "holds no question"),
    ('{"id": "q1", "question": "Who?"}\n', "line 1 lacks context"),
    ("[1, 2]\n", "line 1 is not a JSON object"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    run_dir = tmp_path / "run"
    if content is not None:
        run_dir.mkdir()
        (run_dir / "eval_questions.jsonl").write_text(content)
    assert report_cli.main([str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("qa-report: error:")


def test_truncated_question_file_is_refused_with_its_line(tmp_path, capsys):
    run_dir, _ = crafted_run(tmp_path)
    path = run_dir / "eval_questions.jsonl"
    path.write_bytes(path.read_bytes()[:-40])  # cut inside the last record
    assert report_cli.main([str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "line 90 is not JSON" in err and "cut short" in err and err.count("\n") == 1


def test_missing_question_file_names_the_file(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "status.json").write_text('{"status": "finished"}')
    assert report_cli.main([str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "eval_questions.jsonl: missing" in err
    # qa-evaluate writes eval_<stem>_questions.jsonl, so the hint says to pass that one
    assert "--questions" in err and err.count("\n") == 1


@pytest.mark.parametrize("field,value,message", [
    ("f1", None, "f1 is null, expected a number in [0, 1]"),
    ("exact_match", "yes", 'exact_match is "yes", expected a number in [0, 1]'),
    ("question", 5, "question is 5, expected text"),
    ("context", None, "context is null, expected text"),
    ("answers", None, "answers is null, expected a list of texts"),
    ("windows", 0, "windows is 0, expected an integer >= 1"),
    ("answer_starts", [], "1 answers but 0 answer_starts"),
    ("no_answer_probability", "high", 'no_answer_probability is "high", expected a number'),
])
def test_a_record_with_a_wrong_value_is_one_line_and_exit_2(tmp_path, capsys, field, value,
                                                             message):
    run_dir, records = crafted_run(tmp_path, n=30)
    records[4] = {**records[4], "answers": ["Normandy"], "answer_starts": [0], field: value}
    (run_dir / "eval_questions.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert report_cli.main([str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert f"eval_questions.jsonl: line 5: {message}" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("status,shown", [
    ({"status": "running"}, "status.json: running"),
    ({"status": "failed", "error": "CUDA out of\nmemory"},
     "status.json: failed: CUDA out of memory"),
    ({"status": "pruned"}, "status.json: pruned"),
])
def test_an_unfinished_run_is_refused_even_with_files_of_an_earlier_attempt(
        tmp_path, capsys, status, shown):
    run_dir, _ = crafted_run(tmp_path)  # records left by an earlier attempt
    (run_dir / "status.json").write_text(json.dumps(status))
    assert report_cli.main([str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "the run has not finished" in err and shown in err and err.count("\n") == 1, err
    assert not (run_dir / "report").exists()


def test_a_directory_that_is_not_a_run_is_named_as_such(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    assert report_cli.main([str(tmp_path / "photos")]) == 2
    err = capsys.readouterr().err
    assert "photos: not a run directory (no status.json, no eval_questions.jsonl)" in err
