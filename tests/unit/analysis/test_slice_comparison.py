"""qa-compare's slice view on crafted sweep directories."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PIL import Image

from helpers import make_job, metrics
from qa_experiments.compare import main

CONTEXT = "The empire fell in 476 because its armies were weak. Rome was its capital city."
QUESTIONS = [("Why did the empire fall?", "its armies were weak"),
             ("When did the empire fall?", "476"),
             ("What was its capital?", "Rome")]


def write_questions(job: Path, right: set[str]) -> None:
    """Records of the three crafted questions, each right (EM 1) when its type is in `right`."""
    lines = []
    for i, (question, gold) in enumerate(QUESTIONS * 4):
        kind = question.split()[0].lower()
        ok = kind in right
        lines.append(json.dumps({
            "id": f"q{i}", "question": question, "context": CONTEXT, "answers": [gold],
            "answer_starts": [CONTEXT.index(gold)], "prediction": gold if ok else "city",
            "exact_match": int(ok), "f1": 1.0 if ok else 0.0, "windows": 1}))
    (job / "eval_questions.jsonl").write_text("\n".join(lines) + "\n")


def sweep_with_questions(root: Path) -> Path:
    sweep = root / "multirun" / "2026-11-26" / "10-00-00"
    fin = {"status": "finished", "results": metrics(50.0, 60.0)}
    bert = make_job(sweep, "0", ["model=bert", "seed=1"], backbone="bert", **fin)
    roberta = make_job(sweep, "1", ["model=roberta", "seed=1"], backbone="roberta",
                       **fin | {"results": metrics(60.0, 70.0)})
    make_job(sweep, "2", ["model=minilm", "seed=1"], backbone="minilm", **fin)  # older run
    make_job(sweep, "3", ["model=bert", "seed=1", "optimizer.lr=1"], status="failed",
             error="boom", backbone="bert")
    write_questions(bert, right={"when", "what"})
    write_questions(roberta, right={"why", "what"})
    return sweep


def test_slice_view_shows_which_backbone_answers_why_questions(tmp_path, capsys):
    sweep = sweep_with_questions(tmp_path)
    assert main([str(sweep)]) == 0
    out = capsys.readouterr().out
    console = out.split("F1 by question type:")[1].splitlines()
    header, rows = console[1].split(), {line.split()[1]: line.split()[2:] for line in console[2:]
                                        if line.strip()}
    why, when = header.index("why") - 1, header.index("when") - 1
    assert rows["roberta"][why] == "100.0" and rows["bert"][why] == "0.0"
    assert rows["bert"][when] == "100.0" and rows["roberta"][when] == "0.0"
    assert rows["bert"][header.index("who") - 1] == "-"  # no "who" question here

    markdown = (sweep / "comparison_slices.md").read_text()
    # empty buckets left out; all the job's questions first; buckets of 4 questions are few
    assert "| job | overrides | all questions | what | when | why |" in markdown
    assert ("| #1 roberta | model=roberta | 66.7 (12, few) | 100.0 (4, few) | 0.0 (4, few) | "
            "100.0 (4, few) |") in markdown
    assert ("| #0 bert | model=bert | 66.7 (12, few) | 100.0 (4, few) | 100.0 (4, few) | "
            "0.0 (4, few) |") in markdown
    assert "#2 minilm: " in markdown and "eval_questions.jsonl: missing" in markdown
    assert "#3" not in markdown  # failed jobs have no slices to show

    with (sweep / "comparison_slices.csv").open(newline="") as handle:
        records = list(csv.DictReader(handle))
    why_rows = {(r["backbone"], r["bucket"]): r for r in records if r["slice"] == "question_type"}
    assert float(why_rows["roberta", "why"]["f1"]) == 100.0
    assert float(why_rows["bert", "why"]["f1"]) == 0.0 and why_rows["bert", "why"]["count"] == "4"
    assert {r["slice"] for r in records} == {"question_type", "answer_length", "context_length",
                                             "windows", "answer_position", "word_overlap"}
    with Image.open(sweep / "comparison_slices.png") as image:
        image.verify()
    assert (sweep / "comparison_slices.png").stat().st_size > 5000


def test_several_sweeps_are_labelled_by_sweep(tmp_path, capsys):
    first = sweep_with_questions(tmp_path / "a")
    second = sweep_with_questions(tmp_path / "b")
    out_dir = tmp_path / "out"
    assert main([str(first), str(second), "--out", str(out_dir)]) == 0
    markdown = (out_dir / "comparison_slices.md").read_text()
    assert markdown.count(" #1 roberta |") == 12  # 2 sweeps x 6 slices
    assert f"| {first} #1 roberta |" in markdown


def test_no_slice_files_without_question_records(tmp_path, capsys):
    sweep = tmp_path / "s"
    make_job(sweep, "0", ["model=bert"], status="finished", results=metrics(1, 2),
             backbone="bert")
    assert main([str(sweep)]) == 0
    assert "F1 by question type" not in capsys.readouterr().out
    assert not (sweep / "comparison_slices.md").exists()


def test_a_job_with_a_damaged_record_is_listed_without_slices(tmp_path, capsys):
    sweep = sweep_with_questions(tmp_path)
    questions = sweep / "0" / "eval_questions.jsonl"
    lines = questions.read_text().splitlines()
    lines[2] = lines[2].replace('"f1": 1.0', '"f1": null').replace('"f1": 0.0', '"f1": null')
    questions.write_text("\n".join(lines) + "\n")
    assert main([str(sweep)]) == 0  # was a TypeError traceback
    markdown = (sweep / "comparison_slices.md").read_text()
    assert "#0 bert: " in markdown and "line 3: f1 is null" in markdown
    assert "| #1 roberta |" in markdown


def test_slice_files_of_an_earlier_comparison_are_removed_when_no_job_has_records(tmp_path,
                                                                                capsys):
    sweep = sweep_with_questions(tmp_path)
    assert main([str(sweep)]) == 0 and (sweep / "comparison_slices.md").exists()
    for job in ("0", "1"):
        (sweep / job / "eval_questions.jsonl").unlink()
    assert main([str(sweep)]) == 0
    assert not list(sweep.glob("comparison_slices.*"))  # they showed jobs' records now gone
