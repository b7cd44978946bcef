"""qa-report: the error-analysis report on crafted question files and on tiny-model runs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import crafted_run, find_key, run_train
from qa_experiments import report as report_cli
from qa_experiments.analysis import abstention
from qa_experiments.analysis.error_report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.width > 100 and image.height > 100


def test_v2_report_has_every_section_and_valid_charts(tmp_path, capsys):
    run_dir, records = crafted_run(tmp_path)
    assert report_cli.main([str(run_dir)]) == 0
    out = run_dir / "report"
    for name in ("slices.png", "no_answer_threshold.png", "answerability_pr.png",
                 "reliability.png"):
        assert_png(out / name)
    text = (out / "report.md").read_text()
    for heading in ("## EM / F1 by slice", "## SQuAD v2: answering or abstaining",
                    "## Confidence: calibration and reliability",
                    "## The 10 most confident wrong answers"):
        assert heading in text
    assert "| ECE, calibrated confidence, out-of-fold (after) | 0.0400 |" in text
    assert "calibrated confidence" in text and "Not shown" not in text
    answered = sum(bool(r["prediction"]) for r in records if r["answers"])
    assert f"| has an answer | {answered} | {60 - answered} |" in text
    assert "Wrote" in capsys.readouterr().out
    slices = json.loads((out / "slices.json").read_text())
    assert sum(b["count"] for b in slices["question_type"]) == 90


def test_v1_report_without_probabilities_says_why_sections_are_missing(tmp_path):
    run_dir, records = crafted_run(tmp_path, v2=False, results=False)
    lines = [json.loads(line) for line in (run_dir / "eval_questions.jsonl").open()]
    for record in lines:
        record["probability"] = record["confidence"] = None
    (run_dir / "eval_questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    report = write_report(run_dir)
    text = report.markdown.read_text()
    assert "Not shown: a SQuAD v1.1 run" in text
    assert "Reliability diagram not shown" in text
    assert "No readable `results.json`" in text
    assert "(computed from the question records)" in text
    assert list(report.charts) == ["slices"]


def test_reliability_falls_back_to_the_probability_and_says_so(tmp_path):
    run_dir, _ = crafted_run(tmp_path, confidence=False)
    text = write_report(run_dir).markdown.read_text()
    assert "answer probability (uncalibrated)" in text
    assert "no calibrated confidence" in text


def test_most_confident_wrong_answers_are_ranked_and_marked(tmp_path):
    run_dir, records = crafted_run(tmp_path)
    text = write_report(run_dir).markdown.read_text()
    wrong = sorted((r for r in records if not r["exact_match"]), key=lambda r: -r["confidence"])
    section = text.split("most confident wrong answers")[1]
    positions = [section.index(f"(`{r['id']}`)") for r in wrong[:10]]
    assert positions == sorted(positions) and f"(`{wrong[10]['id']}`)" not in section


def test_answerability_curve_matches_scikit_learn(tmp_path):
    metrics = pytest.importorskip("sklearn.metrics")
    _, records = crafted_run(tmp_path)
    records[1]["no_answer_probability"] = records[2]["no_answer_probability"]  # a tie
    curve = abstention.answerability_curve(records)
    labels = [bool(r["answers"]) for r in records]
    scores = [1 - r["no_answer_probability"] for r in records]
    assert curve.average_precision == pytest.approx(
        metrics.average_precision_score(labels, scores))
    precision, recall, _ = metrics.precision_recall_curve(labels, scores)
    np.testing.assert_allclose(sorted(zip(recall[:-1], precision[:-1])),
                               sorted(zip(curve.recall, curve.precision)))


def test_non_finite_scores_are_not_shown_as_nan(tmp_path):
    run_dir, _ = crafted_run(tmp_path)
    (run_dir / "results.json").write_text('{"exact_match": NaN, "f1": Infinity, '
                                          '"calibration": {"ece_after": NaN}}')
    report = write_report(run_dir)
    text = report.markdown.read_text()
    assert "| F1 (%) | not a number |" in text
    assert "| ECE, calibrated confidence, out-of-fold (after) | not a number |" in text
    assert "| nan |" not in text.lower() and "| inf |" not in text
    assert_png(report.charts["no_answer_threshold"])


@pytest.mark.slow
def test_every_tiny_run_ends_with_its_report_and_qa_report_rewrites_it(tmp_path):
    _, run_dir = run_train(tmp_path, "v2", ["model=tiny_roberta", "data=sample_v2"])
    report = run_dir / "report"
    assert_png(report / "slices.png")
    text = (report / "report.md").read_text()
    assert "not comparable to published dev-v2.0 figures" in text  # the run's eval_note
    assert "| has an answer |" in text
    done = subprocess.run([sys.executable, "-m", "qa_experiments.report", str(run_dir),
                           "--out", str(tmp_path / "again")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again" / "report.md").read_text() == text
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished"


def test_a_failing_report_is_a_warning_not_a_failed_run(tmp_path, caplog, monkeypatch):
    from qa_experiments.lifecycle import job

    def broken(run_dir):
        raise RuntimeError("chart exploded")

    monkeypatch.setattr(job, "write_report", broken)
    with caplog.at_level("WARNING"):
        f1, run_dir = run_train(tmp_path, "v1", ["model=tiny_bert"])
    assert "Error-analysis report not written: RuntimeError: chart exploded" in caplog.text
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    assert not (run_dir / "report").exists()


def test_wandb_run_gets_slice_scores_charts_and_predictions_table(tmp_path):
    _, run_dir = run_train(tmp_path, "wandb", ["model=tiny_bert", "logger=wandb",
                                               "logger.wandb.mode=offline"])
    (wandb_run,) = (run_dir / "wandb").glob("offline-run-*")
    inspected = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json", str(wandb_run)],
        capture_output=True, text=True, check=True)
    state = json.loads(inspected.stdout)
    slices = json.loads((run_dir / "report" / "slices.json").read_text())
    what = next(b for b in slices["question_type"] if b["label"] == "what")
    assert find_key(state, "slice/question_type/what/f1") == pytest.approx(what["f1"])
    assert find_key(state, "slice/question_type/what/count") == what["count"]
    table = find_key(state, "report/predictions")
    assert table is not None and table.get("_type") == "table-file" and table["nrows"] == 12
    chart = find_key(state, "report/slices")  # the chart, as an image
    assert chart["_type"] == "image-file" and chart["format"] == "png", chart


def test_qa_evaluate_question_files_get_their_own_report(tmp_path):
    run_dir, _ = crafted_run(tmp_path)
    (run_dir / "eval_questions.jsonl").rename(run_dir / "eval_dev_questions.jsonl")
    (run_dir / "results.json").rename(run_dir / "eval_dev.json")
    assert report_cli.main([str(run_dir), "--questions",
                            str(run_dir / "eval_dev_questions.jsonl")]) == 0
    text = (run_dir / "report_eval_dev_questions" / "report.md").read_text()
    assert "questions from `eval_dev_questions.jsonl`, scores from `eval_dev.json`" in text


def test_a_missing_questions_file_given_on_the_command_line_is_named(tmp_path, capsys):
    run_dir, _ = crafted_run(tmp_path)
    assert report_cli.main([str(run_dir), "--questions", str(run_dir / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "nope.jsonl: no such question file (--questions)" in err and err.count("\n") == 1


def test_the_reliability_legend_hides_no_bar(tmp_path, monkeypatch):
    from qa_experiments.analysis import charts
    from qa_experiments.scoring.calibration_metrics import reliability_bins

    figures = []
    monkeypatch.setattr(charts, "_save", lambda figure, path: figures.append(figure) or path)
    bins = reliability_bins([0.05, 0.3, 0.95] * 5, [1, 1, 1] * 5)  # tall bars on the left
    charts.reliability_chart(bins, "calibrated confidence", 0.1, tmp_path / "r.png")
    figures[0].canvas.draw()
    plot = figures[0].axes[0]
    assert not plot.get_legend().get_window_extent().overlaps(plot.get_window_extent())


def test_a_report_rewritten_in_place_keeps_no_chart_of_the_earlier_one(tmp_path):
    (tmp_path / "v2").mkdir()
    (tmp_path / "v1").mkdir()
    v2_run, _ = crafted_run(tmp_path / "v2")
    v1_run, _ = crafted_run(tmp_path / "v1", v2=False)
    out = tmp_path / "report"
    write_report(v2_run, out)
    assert (out / "no_answer_threshold.png").exists()
    report = write_report(v1_run, out)
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        p.name for p in report.charts.values())  # no v2 chart of the other questions
