"""What a reader of report.md and of the slice charts sees: a header in words (model, data,
scores, run), figures by name, lists nested the same on GitHub and in the mkdocs site, what a
calibration that did not help means, small buckets marked and the F1 of all the questions as
the reference in the charts."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import markdown
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from helpers import CONTEXT, make_job, metrics
from markdown_render import RENDERERS, parse
from qa_experiments.analysis import charts, slice_comparison
from qa_experiments.analysis.comparison import collect_jobs
from qa_experiments.analysis.error_report import (
    TOP_WRONG,
    calibration_verdict,
    marked_context,
    write_report,
)
from qa_experiments.analysis.slices import SMALL_BUCKET, SliceScore, score_all, score_slices
from qa_experiments.compare import main as compare_main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_REPORTS = sorted((ROOT / "docs" / "example-reports").glob("*/report.md"))
# python-markdown's extensions in mkdocs.yml that shape lists and tables (the pymdownx ones
# come with the docs extra and change neither)
MKDOCS_EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "toc"]

GOLD_START = CONTEXT.find("Normandy")
QUESTIONS = ["Where did the Normans live?", "In what country is Normandy?", "Who were they?",
             "How many centuries?"]


def record(i: int, rng: random.Random, *, v2: bool, question: str | None = None) -> dict:
    answerable = not v2 or i % 4 != 0
    right = rng.random() < 0.6
    prediction = ("Normandy" if right else "France") if answerable else ("" if right else "x")
    result = {
        "id": f"q{i}", "title": "Normans", "question": question or QUESTIONS[i % 4],
        "context": CONTEXT, "answers": ["Normandy"] if answerable else [],
        "answer_starts": [GOLD_START] if answerable else [], "prediction": prediction,
        "exact_match": int(right), "f1": 1.0 if right else rng.choice([0.0, 0.5]),
        "windows": 1, "answer_start_char": CONTEXT.find(prediction) if prediction else -1,
        "probability": rng.random(), "confidence": rng.random()}
    if v2:
        result.update({"no_answer_probability": rng.random(), "best_span": "Normandy",
                       "best_span_exact_match": int(answerable),
                       "best_span_f1": float(answerable)})
    return result


def run_dir_with(tmp_path: Path, *, v2: bool, n: int = 120, brier=(0.21, 0.20),
                 config: bool = True) -> tuple[Path, list[dict], dict]:
    """A run directory as a training run leaves it: questions, results.json, config.json.
    Its one "Why" question makes a bucket of one."""
    run_dir = tmp_path / "outputs" / "2026-12-05" / "13-43-38"
    run_dir.mkdir(parents=True)
    rng = random.Random(3)
    records = [record(i, rng, v2=v2) for i in range(n - 1)]
    records.append(record(n - 1, rng, v2=v2, question="Why did they raid?"))
    (run_dir / "eval_questions.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    em = 100 * sum(r["exact_match"] for r in records) / n
    f1 = 100 * sum(r["f1"] for r in records) / n
    results = {
        "exact_match": em, "f1": f1, "eval_examples": n,
        "calibration": {
            "method": "platt", "outcome": "exact_match", "questions": n, "folds": 5,
            "bins": 15, "ece_before": 0.061, "brier_before": brier[0], "ece_after": 0.0246,
            "brier_after": brier[1],
            "stored": {"method": "platt", "slope": 0.9628, "intercept": 0.2373},
            "how": "before: the answer probability; after: Platt scaling, out-of-fold"}}
    if v2:
        results.update({
            "HasAns_exact_match": 26.61, "HasAns_f1": 34.46, "HasAns_total": 90,
            "NoAns_exact_match": 58.27, "NoAns_f1": 58.27, "NoAns_total": 30,
            "best_exact": 51.2, "best_exact_thresh": 0.0284, "best_f1": 52.33,
            "best_f1_thresh": 0.0476,
            "eval_note": "a development split: not comparable to published dev-v2.0 figures",
            "no_answer_threshold": {
                "exact_match_at_threshold_0": 42.5, "f1_at_threshold_0": 46.41,
                "cross_validated_exact_match": 49.5, "cross_validated_f1": 50.24,
                "fold_thresholds": [-2.5, -2.6, -2.7, -2.4, -2.6],
                "tuned_threshold": -2.5932, "threshold_used": 0.0, "how": "null score diff"}})
    (run_dir / "results.json").write_text(json.dumps(results), encoding="utf-8")
    os.utime(run_dir / "results.json", (1764942180, 1764942180))  # 2025-12-05 13:43 UTC
    if config:
        data = ({"name": "sample_v2", "eval_file": "/somewhere/v2-devsplit-eval.json.gz"} if v2
                else {"name": "squad", "eval_file": None, "dataset_name": "squad",
                      "dataset_config_name": None, "eval_split": "validation"})
        (run_dir / "config.json").write_text(json.dumps({
            "model": {"name": "minilm", "name_or_path": "nreimers/MiniLM-L6-H384-uncased"},
            "data": data}), encoding="utf-8")
    return run_dir, records, results


def block(text: str) -> list[str]:
    """The lines of the header's block (the list under the title)."""
    lines = text.split("\n\n")[1].splitlines()
    assert all(line.startswith("- **") for line in lines), lines
    return lines


# --------------------------------------------------------------------------- #
# the header
# --------------------------------------------------------------------------- #


def test_the_header_says_in_words_what_was_analysed_and_how_it_scored(tmp_path, monkeypatch):
    run_dir, records, results = run_dir_with(tmp_path, v2=False)
    monkeypatch.chdir(tmp_path)  # the run is named relative to where the command ran
    text = write_report(run_dir).markdown.read_text(encoding="utf-8")
    assert text.startswith("# Error analysis: minilm on squad\n")
    assert block(text) == [
        "- **Model:** minilm (`nreimers/MiniLM-L6-H384-uncased`)",
        "- **Data:** 120 questions of the validation split of `squad` (`data=squad`), "
        "SQuAD v1.1",
        f"- **Scores:** exact match {results['exact_match']:.2f}, F1 {results['f1']:.2f}",
        "- **Run:** `outputs/2026-12-05/13-43-38`, scored 2025-12-05 13:43 UTC; questions "
        "from `eval_questions.jsonl`, scores from `results.json`"]
    # EM, F1 and the count are all in the block: no table repeats them
    assert "| score | value |" not in text


def test_a_v2_header_adds_answerable_scores_and_the_threshold(tmp_path):
    run_dir, records, results = run_dir_with(tmp_path, v2=True)
    text = write_report(run_dir).markdown.read_text(encoding="utf-8")
    assert text.startswith("# Error analysis: minilm on sample_v2\n")
    lines = block(text)
    answerable = sum(bool(r["answers"]) for r in records)
    assert lines[1] == (
        f"- **Data:** 120 questions of `v2-devsplit-eval.json.gz` (`data=sample_v2`), SQuAD "
        f"v2: {answerable} with an answer, {120 - answerable} without. Note: "
        f"{results['eval_note']}")
    assert lines[2] == (f"- **Scores:** exact match {results['exact_match']:.2f}, F1 "
                        f"{results['f1']:.2f}; F1 on questions with an answer 34.46, without "
                        "58.27")
    assert lines[3] == ("- **No-answer threshold:** 0.0000 on the no-answer score minus the "
                        "best answer's score (answer nothing above it); F1 with a threshold "
                        "tuned by cross-validation: 50.24")
    assert lines[4].startswith("- **Run:** `") and "13-43-38`, scored 2025-12-05 13:43 UTC" in (
        lines[4])
    # every figure of results.json by name, with its number as before
    for row in ("| F1, questions with an answer (%) | 34.46 |",
                "| questions without an answer | 30 |",
                "| the threshold on P(no answer) of that best F1 | 0.0476 |",
                "| F1, threshold tuned by cross-validation (%) | 50.24 |",
                "| threshold tuned on all the questions | -2.5932 |",
                "| threshold of the answers scored above | 0.0000 |",
                "| method | Platt scaling |",
                "| Brier score, calibrated confidence, out-of-fold (after) | 0.2000 |",
                "| stored calibration: slope on the log-odds | 0.9628 |",
                "| stored calibration: intercept | 0.2373 |"):
        assert row in text, row
    assert not re.search(r"`(calibration|no_answer_threshold)\.", text)  # no raw keys
    assert "How: null score diff" in text and "How: before: the answer probability" in text


def test_without_a_config_the_run_names_the_report(tmp_path):
    run_dir, _, results = run_dir_with(tmp_path, v2=False, config=False)
    (run_dir / "results.json").unlink()
    text = write_report(run_dir).markdown.read_text(encoding="utf-8")
    assert text.startswith("# Error analysis: 13-43-38\n")
    lines = block(text)
    assert lines[0] == "- **Model:** not recorded (no config.json in the run directory)"
    assert lines[2] == (f"- **Scores:** exact match {results['exact_match']:.2f}, F1 "
                        f"{results['f1']:.2f} (computed from the question records)")


# --------------------------------------------------------------------------- #
# lists nested alike on GitHub and in the site
# --------------------------------------------------------------------------- #


def _list_shape(html: str) -> tuple[int, list[int]]:
    """(top-level items of the last ordered list, nested items under each of them)."""
    root = parse(html)
    ordered = [element for element in root.iter("ol")][-1]
    items = [child for child in ordered.children if getattr(child, "tag", None) == "li"]
    nested = [sum(1 for ul in item.iter("ul") for li in ul.children
                  if getattr(li, "tag", None) == "li") for item in items]
    return len(items), nested


def renderers():
    yield "python-markdown (mkdocs.yml)", lambda text: markdown.markdown(
        text, extensions=MKDOCS_EXTENSIONS)
    yield from RENDERERS.items()


@pytest.mark.parametrize("v2", [False, True])
def test_the_wrong_answers_render_as_ten_items_with_nested_lists(tmp_path, v2):
    run_dir, _, _ = run_dir_with(tmp_path, v2=v2)
    text = write_report(run_dir).markdown.read_text(encoding="utf-8")
    assert re.search(r"^10\. ", text, re.M) and re.search(r"^ {4}- context: ", text, re.M)
    for name, render in renderers():
        items, nested = _list_shape(render(text))
        assert (items, nested) == (TOP_WRONG, [2] * TOP_WRONG), name
        header_items = len(block(text))
        assert render(text).count("<li>") == header_items + 3 * TOP_WRONG, name


@pytest.mark.parametrize("path", EXAMPLE_REPORTS, ids=lambda p: p.parent.name)
def test_the_example_reports_render_their_lists_nested(path):
    text = path.read_text(encoding="utf-8")
    for name, render in renderers():
        assert _list_shape(render(text)) == (TOP_WRONG, [2] * TOP_WRONG), name


# --------------------------------------------------------------------------- #
# a calibration that did not help
# --------------------------------------------------------------------------- #


def test_a_worse_brier_score_after_calibration_is_explained(tmp_path):
    run_dir, _, _ = run_dir_with(tmp_path, v2=False, n=500, brier=(0.1096, 0.1119))
    text = write_report(run_dir).markdown.read_text(encoding="utf-8")
    (verdict,) = [line for line in text.splitlines() if "did not help" in line]
    assert verdict.startswith("**Calibration did not help here** (Brier score 0.1096 -> "
                              "0.1119; lower is better).")
    assert "other 4 of 5 folds (about 400 of the 500 questions)" in verdict
    assert "ECE improved" in verdict  # 0.0610 -> 0.0246 here
    assert "model/calibration.json" in verdict and "all 500 questions" in verdict
    assert "no better than the raw answer probability" in verdict


def test_a_calibration_that_helped_needs_no_explanation(tmp_path):
    run_dir, _, _ = run_dir_with(tmp_path, v2=False)
    assert "did not help" not in write_report(run_dir).markdown.read_text(encoding="utf-8")


def test_the_verdict_names_every_figure_that_did_not_improve():
    figures = {"ece_before": 0.03, "ece_after": 0.05, "brier_before": 0.2,
               "brier_after": 0.2, "questions": 100, "folds": 5}
    verdict = calibration_verdict(figures)
    assert "(ECE 0.0300 -> 0.0500 and Brier score 0.2000 -> 0.2000;" in verdict
    assert "ECE improved" not in verdict
    assert calibration_verdict({**figures, "ece_after": float("nan")}) is None
    assert calibration_verdict({"skipped": "every answer is wrong"}) is None


# --------------------------------------------------------------------------- #
# the slice chart and tables: counts, small buckets, the reference
# --------------------------------------------------------------------------- #


@pytest.fixture
def drawn(monkeypatch):
    """The figures the charts draw, kept instead of saved."""
    figures = []
    monkeypatch.setattr(charts, "_save", lambda figure, path: figures.append(figure) or path)
    return figures


def test_the_slice_chart_marks_small_buckets_and_draws_the_overall_f1(tmp_path, drawn):
    run_dir, records, results = run_dir_with(tmp_path, v2=False)
    report = write_report(run_dir)
    figure = drawn[0]  # the slice chart comes first
    overall = score_all(records)
    assert overall.f1 == pytest.approx(results["f1"])
    question_types = figure.axes[0]
    lines = [line for line in question_types.get_lines() if line.get_gid() == charts.OVERALL_GID]
    assert len(lines) == 1 and lines[0].get_xdata()[0] == pytest.approx(results["f1"])
    assert all(any(line.get_gid() == charts.OVERALL_GID for line in ax.get_lines())
               for ax in figure.axes)
    labels = [t.get_text() for t in question_types.get_yticklabels()]
    bars = dict(zip(labels, question_types.patches))
    assert bars["why"].get_hatch() and bars["why"].get_facecolor() == pytest.approx(
        to_rgba("tab:blue", 0.25))  # a bucket of one question
    assert not bars["what"].get_hatch() and bars["what"].get_facecolor() == pytest.approx(
        to_rgba("tab:blue"))
    texts = [t.get_text() for t in question_types.texts]
    assert any(t.endswith("(n=1)") for t in texts)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == ["F1 of the bucket",
                      f"fewer than {SMALL_BUCKET} questions: F1 unreliable",
                      f"F1 of all 120 questions: {results['f1']:.1f}"]
    text = report.markdown.read_text(encoding="utf-8")
    assert "| why | 1 (few) |" in text
    what = next(b for b in report.slices["question_type"] if b.label == "what")
    assert what.count >= SMALL_BUCKET and f"| what | {what.count} |" in text
    assert f"All 120 questions: EM {results['exact_match']:.2f}, F1 {results['f1']:.2f}" in text


def test_without_small_buckets_the_legend_keys_none(tmp_path, drawn):
    slices = {"windows": [SliceScore("1 window", 40, 50.0, 60.0),
                          SliceScore("2 windows", 20, 25.0, 30.0)]}
    overall = SliceScore("all questions", 60, 41.67, 50.0)
    charts.slice_chart(slices, tmp_path / "s.png", overall)
    legend = [t.get_text() for t in drawn[0].legends[0].get_texts()]
    assert legend == ["F1 of the bucket", "F1 of all 60 questions: 50.0"]
    assert not any(bar.get_hatch() for bar in drawn[0].axes[0].patches)


def test_a_slice_bucket_is_small_below_the_documented_minimum():
    assert SliceScore("a", SMALL_BUCKET - 1, 50.0, 50.0).small
    assert not SliceScore("a", SMALL_BUCKET, 50.0, 50.0).small
    assert not SliceScore("a", 0, None, None).small  # empty, not small: left out


def test_the_slice_chart_cuts_off_no_text_and_overlaps_no_panel(tmp_path, drawn):
    _, records, _ = run_dir_with(tmp_path, v2=True)
    charts.slice_chart(score_slices(records), tmp_path / "s.png", score_all(records))
    figure = drawn[0]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    page = figure.bbox
    texts = [t for ax in figure.axes for t in (*ax.texts, *ax.get_yticklabels(), ax.title)]
    texts += [figure._suptitle, *figure.legends[0].get_texts()]
    for text in texts:
        box = text.get_window_extent(renderer)
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and (
            box.y1 <= page.y1), text.get_text()
    legend = figure.legends[0].get_window_extent(renderer)
    assert not any(legend.overlaps(ax.get_tightbbox(renderer)) for ax in figure.axes)
    assert not figure._suptitle.get_window_extent(renderer).overlaps(legend)


# --------------------------------------------------------------------------- #
# the qa-compare heatmap
# --------------------------------------------------------------------------- #


def sweep_with_questions(root: Path) -> Path:
    sweep = root / "multirun" / "2026-11-26" / "10-00-00"
    rng = random.Random(5)
    for job, backbone in enumerate(("bert", "roberta")):
        job_dir = make_job(sweep, str(job), [f"model={backbone}"], status="finished",
                           backbone=backbone, results=metrics(50.0, 60.0))
        records = [record(i, rng, v2=False) for i in range(120)]
        records.append(record(120, rng, v2=False, question="Why did they raid?"))
        (job_dir / "eval_questions.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return sweep


def test_the_heatmap_shows_counts_all_questions_and_greys_small_buckets(tmp_path,
                                                                        monkeypatch):
    sweep = sweep_with_questions(tmp_path)
    figures = []
    real_savefig = Figure.savefig

    def keep(figure, path, **kwargs):
        figures.append(figure)
        return real_savefig(figure, path, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    assert compare_main([str(sweep)]) == 0
    (heatmap,) = [f for f in figures
                  if f._suptitle is not None and f._suptitle.get_text().startswith("F1 by")]
    question_types = heatmap.axes[0]
    columns = [t.get_text() for t in question_types.get_xticklabels()]
    assert columns[0] == "all questions" and "why" in columns
    texts = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text()
             for t in question_types.texts}
    jobs = slice_comparison.collect_job_slices([sweep], collect_jobs([sweep]))
    for y, job in enumerate(jobs):
        overall = job.overall
        assert texts[0, y] == f"{overall.f1:.0f}\nn=121"
        assert texts[columns.index("why"), y].endswith("\nn=1")
    small = [p for p in question_types.patches if p.get_gid() == "small-bucket"]
    assert len(small) == 2 and all(p.get_hatch() for p in small)  # "why" of each job
    cells = slice_comparison.heatmap_cells(jobs, "question_type", [0, 5])
    assert [c.count for c in cells[0]] == [121, jobs[0].slices["question_type"][0].count,
                                           jobs[0].slices["question_type"][5].count]
    assert cells[0][0].f1 == pytest.approx(jobs[0].overall.f1) and not cells[0][0].small
    legend = [t.get_text() for t in heatmap.legends[0].get_texts()]
    assert legend[0] == f"fewer than {SMALL_BUCKET} questions: F1 unreliable, not coloured"
    markdown_text = (sweep / "comparison_slices.md").read_text(encoding="utf-8")
    assert "| job | overrides | all questions | what | who | where | why | how |" in markdown_text
    assert re.search(r"\| #\d \w+ \| model=\w+ \| [\d.]+ \(121\) \|.* \| [\d.]+ \(1, few\) \|",
                     markdown_text)


def test_marked_context_marks_prediction_and_gold():
    record = {"context": CONTEXT, "prediction": "France", "answer_start_char": CONTEXT.find(
        "France"), "answers": ["Normandy"], "answer_starts": [CONTEXT.find("Normandy")]}
    marked = marked_context(record, width=20)
    assert "{{Normandy}}, a region in [[France]]" in marked
    assert marked.startswith("...") and marked.endswith("...")
    overlapping = {**record, "prediction": "Normandy, a region",
                   "answer_start_char": CONTEXT.find("Normandy")}
    assert "[[{{Normandy}}, a region]]" in marked_context(overlapping)
