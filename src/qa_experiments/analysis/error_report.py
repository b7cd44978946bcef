"""The error-analysis report of a run: RUN_DIR/report/report.md with PNG charts beside it.

Sections: the run's headline scores (results.json), EM/F1 by slice, for SQuAD v2 the
answered/abstained confusion, F1 against the no-answer threshold and the answerability
precision/recall curve, the reliability diagram, and the most confident wrong answers. A
section whose inputs the run lacks (no confidence, a v1.1 run) is replaced by a line saying why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa_experiments.analysis import abstention, charts
from qa_experiments.analysis.escaping import markdown_code, markdown_text
from qa_experiments.analysis.run_files import (
    finite_number,
    is_share,
    questions_path,
    read_json_object,
    read_questions,
    results_path,
)
from qa_experiments.analysis.slices import SLICERS, SliceScore, score_slices
from qa_experiments.runs.atomic import write_json, write_text
from qa_experiments.scoring.calibration_metrics import (
    N_BINS,
    expected_calibration_error,
    reliability_bins,
)

REPORT_DIR = "report"
TOP_WRONG = 10
CONTEXT_CHARS = 160  # characters of context shown on each side of a wrong answer
HEADLINE_KEYS = (
    "exact_match", "f1", "HasAns_exact_match", "HasAns_f1", "HasAns_total", "NoAns_exact_match",
    "NoAns_f1", "NoAns_total", "best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh",
    "eval_examples",
)
DETAIL_SECTIONS = ("no_answer_threshold", "calibration")  # results.json sections shown in full
CHART_FILES = ("slices.png", "no_answer_threshold.png", "answerability_pr.png", "reliability.png")


@dataclass
class Report:
    """What the report found; `charts` maps a chart name to its PNG."""

    markdown: Path
    slices: dict[str, list[SliceScore]]
    charts: dict[str, Path] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)


def write_report(run_dir: Path, out_dir: Path | None = None,
                 questions: Path | None = None) -> Report:
    """Analyse a question file (default RUN_DIR/eval_questions.jsonl) and the scores beside
    it; write report.md, slices.json and the charts into `out_dir` (default RUN_DIR/report,
    or RUN_DIR/report_<question file stem> for another question file)."""
    run_dir = Path(run_dir)
    source = questions_path(run_dir, questions)
    records = read_questions(source)
    results = read_json_object(results_path(source))
    if out_dir is None:
        out_dir = run_dir / (REPORT_DIR if questions is None else f"{REPORT_DIR}_{source.stem}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    slices = score_slices(records)
    report = Report(out_dir / "report.md", slices, records=records)
    report.charts["slices"] = charts.slice_chart(slices, out_dir / "slices.png")
    sections = [
        _headline(run_dir, source, results, len(records)),
        _slice_section(slices),
        _abstention_section(records, results, out_dir, report),
        _calibration_section(records, out_dir, report),
        _wrong_answers_section(records),
    ]
    write_json(out_dir / "slices.json",
               {name: [asdict(b) for b in buckets] for name, buckets in slices.items()})
    write_text(report.markdown, "\n\n".join(sections) + "\n")
    _remove_stale_charts(out_dir, report)
    return report


def _remove_stale_charts(out_dir: Path, report: Report) -> None:
    """Delete the charts an earlier report left in `out_dir` that this one did not draw (e.g.
    the SQuAD v2 charts when v1.1 questions are analysed there now)."""
    drawn = {path.name for path in report.charts.values()}
    for name in CHART_FILES:
        if name not in drawn:
            (out_dir / name).unlink(missing_ok=True)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _headline(run_dir: Path, source: Path, results: dict[str, Any] | None, n: int) -> str:
    scores_file = markdown_text(results_path(source).name)
    lines = [f"# Error analysis: {markdown_text(run_dir.name)}", "",
             f"Run directory {markdown_code(run_dir)}; {n} questions from "
             f"{markdown_code(source.name)}."]
    if results is None:
        lines += ["", f"No readable {scores_file}: headline scores are not shown."]
        return "\n".join(lines)
    if results.get("eval_note"):
        lines += ["", f"**Evaluation data:** {markdown_text(results['eval_note'])}."]
    rows = [(key, results[key]) for key in HEADLINE_KEYS if key in results]
    notes = []
    for section in DETAIL_SECTIONS:
        if isinstance(results.get(section), dict):
            leaves = _flat(results[section], f"{section}.")
            rows += [(key, value) for key, value in leaves if not key.endswith(".how")]
            notes += [f"- {markdown_code(key)}: {markdown_text(value)}" for key, value in leaves
                      if key.endswith(".how")]
    lines += ["", f"| figure ({scores_file}) | value |", "|---|---:|"]
    lines += [f"| {markdown_code(key, in_table=True)} | {_value(key, value)} |"
              for key, value in rows]
    if notes:
        lines += ["", "How these figures were obtained:", "", *notes]
    return "\n".join(lines)


def _flat(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar leaves of a nested dict as (dotted key, value)."""
    items: list[tuple[str, Any]] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            items += _flat(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            items.append((f"{prefix}{key}", value))
    return items


def _value(key: str, value: Any) -> str:
    """Percentages with 2 decimals; thresholds and calibration figures with 4; a NaN or
    infinity as "not a number"; text escaped for a table cell."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a number"
    if isinstance(value, float):
        last = key.rsplit(".", 1)[-1]
        fine = (key.startswith("calibration.") or last.startswith("threshold")
                or last.endswith(("thresh", "threshold")))
        return f"{value:.4f}" if fine else f"{value:.2f}"
    return str(value) if isinstance(value, int) else markdown_text(value)


def _slice_section(slices: dict[str, list[SliceScore]]) -> str:
    lines = ["## EM / F1 by slice", "",
             "Scores in percent over the questions of each bucket; empty buckets are left out. "
             "Question type is the first wh-word of the question (\"In what year\" is *what*, "
             "whom/whose count as *who*); answer length and position use the first gold "
             "answer; overlap is the share of the question's content words found in the "
             "context.", "", "![F1 by slice](slices.png)"]
    for slicer in SLICERS:
        lines += ["", f"### {slicer.title}", "", "| bucket | questions | EM | F1 |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {b.label} | {b.count} | {_pct(b.exact_match)} | {_pct(b.f1)} |"
                  for b in slices[slicer.name] if b.count]
    return "\n".join(lines)


def _abstention_section(records, results, out_dir: Path, report: Report) -> str:
    title = "## SQuAD v2: answering or abstaining"
    if not abstention.is_v2(records):
        return f"{title}\n\nNot shown: a SQuAD v1.1 run (the records have no v2 fields)."
    c = abstention.confusion(records)
    lines = [title, "", "| gold \\ run | answered | abstained |", "|---|---:|---:|",
             f"| has an answer | {c.has_answer_answered} | {c.has_answer_abstained} |",
             f"| has no answer | {c.no_answer_answered} | {c.no_answer_abstained} |"]
    missing = abstention.missing_v2_fields(records)
    if missing:
        lines += ["", f"F1 against the no-answer threshold and the answerability curve are not "
                  f"shown: {', '.join(missing)} is missing or null in some records."]
        return "\n".join(lines)
    curve = abstention.threshold_curve(records)
    best_t, best_f1 = curve.best()
    report.charts["no_answer_threshold"] = charts.threshold_chart(
        curve, finite_number((results or {}).get("f1")), out_dir / "no_answer_threshold.png")
    lines += ["", f"Abstaining whenever P(no answer) is above a threshold t (otherwise giving "
              f"the best non-empty span), the best F1 over all thresholds is "
              f"{best_f1:.2f} at t = {best_t:.2f}. That threshold is chosen on these same "
              "questions: an upper bound, not a fair estimate.", "",
              "![F1 against the no-answer threshold](no_answer_threshold.png)"]
    pr = abstention.answerability_curve(records)
    if pr is None or pr.positives == len(records):
        kind = "no question" if pr is None else "every question"
        lines += ["", f"Answerability curve not shown: {kind} here has an answer."]
    else:
        report.charts["answerability"] = charts.answerability_chart(
            pr, len(records), out_dir / "answerability_pr.png")
        lines += ["", f"Answerability (is there an answer?) scored by 1 - P(no answer): "
                  f"average precision {pr.average_precision:.3f}.", "",
                  "![Answerability precision/recall](answerability_pr.png)"]
    return "\n".join(lines)


def confidence_source(records: Sequence[dict[str, Any]]) -> tuple[str, str] | None:
    """(record field, label) of the score to check against exact match: the calibrated
    `confidence`, else the raw answer `probability`; None when neither is set everywhere."""
    for name, label in (("confidence", "calibrated confidence"),
                        ("probability", "answer probability (uncalibrated)")):
        if all(is_share(r.get(name)) for r in records):
            return name, label
    return None


def _calibration_section(records, out_dir: Path, report: Report) -> str:
    title = "## Reliability diagram"
    source = confidence_source(records)
    if source is None:
        return (f"{title}\n\nNot shown: the records hold neither a `confidence` nor a "
                "`probability` in [0, 1] for every question.")
    name, label = source
    confidence = [r[name] for r in records]
    correct = [r["exact_match"] for r in records]
    bins = reliability_bins(confidence, correct)
    ece = expected_calibration_error(confidence, correct)
    report.charts["reliability"] = charts.reliability_chart(bins, label, ece,
                                                            out_dir / "reliability.png")
    note = "" if name == "confidence" else (
        " The run has no calibrated confidence, so this shows the raw answer probability.")
    return "\n".join([
        title, "",
        f"Exact-match rate against the {label} in {N_BINS} equal-width bins; expected "
        f"calibration error {ece:.4f} (0 is perfect).{note}", "",
        "![Reliability diagram](reliability.png)"])


def _wrong_answers_section(records) -> str:
    title = f"## The {TOP_WRONG} most confident wrong answers"
    source = confidence_source(records)
    if source is None:
        return f"{title}\n\nNot shown: the records carry no confidence or probability."
    name, label = source
    wrong = sorted((r for r in records if not r["exact_match"]), key=lambda r: -r[name])
    if not wrong:
        return f"{title}\n\nNone: every answer is an exact match."
    lines = [title, "", f"Ranked by {label}. In the context, `[[...]]` marks the prediction "
             "and `{{...}}` the first gold answer."]
    for rank, record in enumerate(wrong[:TOP_WRONG], 1):
        gold = " / ".join(f"\"{g}\"" for g in dict.fromkeys(record["answers"])) or "(no answer)"
        prediction = f"\"{record['prediction']}\"" if record["prediction"] else "(abstained)"
        question = markdown_text(record["question"])
        lines += ["", f"{rank}. {f'**{question}**' if question else '(no question)'} "
                  f"({markdown_code(record['id'])})",
                  f"   - gold: {markdown_text(gold)}; prediction: {markdown_text(prediction)}; "
                  f"{label} {record[name]:.3f}; F1 {100 * record['f1']:.1f}",
                  f"   - context: {markdown_text(marked_context(record))}"]
    return "\n".join(lines)


def marked_context(record: dict[str, Any], width: int = CONTEXT_CHARS) -> str:
    """The context around the prediction and the first gold answer, marked [[...]] and
    {{...}}: `width` characters on each side of them; far-apart parts joined by "..."."""
    context = record["context"]
    marks = []  # (position, order at equal positions, text)
    start = record.get("answer_start_char", -1)
    if record["prediction"] and isinstance(start, int) and start >= 0:
        marks += [(start, 1, "[["), (start + len(record["prediction"]), 0, "]]")]
    if record["answers"]:
        gold_start = record["answer_starts"][0]
        marks += [(gold_start, 2, "{{"), (gold_start + len(record["answers"][0]), 0, "}}")]
    marks.sort()
    spans: list[list[int]] = []  # merged [begin, end) windows around the marks
    for position, _, _ in marks:
        begin, end = max(position - width, 0), min(position + width, len(context))
        if spans and begin <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([begin, end])
    if not spans:
        spans = [[0, min(2 * width, len(context))]]
    pieces = ["..." if spans[0][0] > 0 else ""]
    for i, (begin, end) in enumerate(spans):
        inside = [m for m in marks if begin <= m[0] <= end]
        cursor = begin
        for position, _, text in inside:
            pieces += [context[cursor:position], text]
            cursor = position
        pieces.append(context[cursor:end])
        if i + 1 < len(spans) or end < len(context):
            pieces.append(" ... " if i + 1 < len(spans) else "...")
    return "".join(pieces)


def slice_summary(slices: dict[str, list[SliceScore]]) -> dict[str, float | int]:
    """Flat scores for a run summary: slice/<slice>/<bucket>/{f1,exact_match,count}."""
    summary: dict[str, float | int] = {}
    for name, buckets in slices.items():
        for b in buckets:
            if b.count:
                key = f"slice/{name}/{b.label}"
                summary.update({f"{key}/f1": b.f1, f"{key}/exact_match": b.exact_match,
                                f"{key}/count": b.count})
    return summary

