"""The error-analysis report of a run: RUN_DIR/report/report.md with PNG charts beside it.

Sections: a header in words (model, data, EM/F1, the run; the other figures of results.json
by name, not by key), EM/F1 by slice read against all the questions (small buckets marked), for
SQuAD v2 the answered/abstained confusion, the no-answer threshold figures, F1 against the
threshold and the answerability precision/recall curve, the calibration figures (with what a
calibration that did not help means) and the reliability diagram, and the most confident wrong
answers. A section whose inputs the run lacks (no confidence, a v1.1 run) is replaced by a line
saying why. The Markdown reads the same on GitHub and in python-markdown (the mkdocs site):
nested lists are indented by 4 spaces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

from qa_experiments.analysis import abstention, charts
from qa_experiments.analysis.report_folder import (
    CHART_FILES,
    MARKDOWN,
    SLICES,
    mark_report_folder,
)
from qa_experiments.analysis.run_files import (
    finite_number,
    is_share,
    questions_path,
    read_questions,
    results_path,
)
from qa_experiments.analysis.slices import (
    SLICERS,
    SMALL_BUCKET,
    SliceScore,
    question_type,
    score_all,
    score_slices,
)
from qa_experiments.escaping import markdown_code, markdown_text
from qa_experiments.runs.atomic import write_json, write_text
from qa_experiments.runs.layout import CONFIG, QUESTIONS, read_json_object, report_dir
from qa_experiments.scoring.calibration_metrics import (
    N_BINS,
    expected_calibration_error,
    reliability_bins,
)

TOP_WRONG = 10
CONTEXT_CHARS = 160  # characters of context shown on each side of a wrong answer
# A nested list's indent: python-markdown (the mkdocs site) needs 4 spaces, GitHub at least
# the width of the item's marker ("10. " is 4).
LIST_INDENT = " " * 4

# The figures of results.json the report shows, in words, in its order (an unknown key of a
# section is shown by its name). Percentages get 2 decimals, thresholds and calibration
# figures 4 (see _value).
SCORE_LABELS = {
    "exact_match": "exact match (%)",
    "f1": "F1 (%)",
    "eval_examples": "questions scored",
    "HasAns_exact_match": "exact match, questions with an answer (%)",
    "HasAns_f1": "F1, questions with an answer (%)",
    "HasAns_total": "questions with an answer",
    "NoAns_exact_match": "exact match, questions without an answer (%)",
    "NoAns_f1": "F1, questions without an answer (%)",
    "NoAns_total": "questions without an answer",
    "best_exact": "best exact match over thresholds on P(no answer), chosen on these "
                  "questions (%)",
    "best_exact_thresh": "the threshold on P(no answer) of that best exact match",
    "best_f1": "best F1 over thresholds on P(no answer), chosen on these questions (%)",
    "best_f1_thresh": "the threshold on P(no answer) of that best F1",
}
IN_THE_BLOCK = ("exact_match", "f1", "eval_examples")  # figures the header's block shows
THRESHOLD_LABELS = {
    "skipped": "not tuned, because",
    "exact_match_at_threshold_0": "exact match at threshold 0 (%)",
    "f1_at_threshold_0": "F1 at threshold 0 (%)",
    "cross_validated_exact_match": "exact match, threshold tuned by cross-validation (%)",
    "cross_validated_f1": "F1, threshold tuned by cross-validation (%)",
    "tuned_threshold": "threshold tuned on all the questions",
    "threshold_used": "threshold of the answers scored above",
}
CALIBRATION_LABELS = {
    "skipped": "not fitted, because",
    "method": "method",
    "outcome": "what the confidence predicts",
    "questions": "questions",
    "folds": "cross-validation folds (by context)",
    "bins": "bins of the expected calibration error",
    "ece_before": "expected calibration error (ECE), answer probability (before)",
    "ece_after": "ECE, calibrated confidence, out-of-fold (after)",
    "brier_before": "Brier score, answer probability (before)",
    "brier_after": "Brier score, calibrated confidence, out-of-fold (after)",
    "stored.method": "stored calibration (fitted on all the questions): method",
    "stored.slope": "stored calibration: slope on the log-odds",
    "stored.intercept": "stored calibration: intercept",
}
STORED_CALIBRATION_LABELS = {
    "ece": "ECE of the model's stored calibration on these questions",
    "brier": "Brier score of the model's stored calibration on these questions",
}
VALUE_WORDS = {"platt": "Platt scaling", "exact_match": "exact match"}


@dataclass
class Report:
    """What the report found; `charts` maps a chart name to its PNG."""

    markdown: Path
    slices: dict[str, list[SliceScore]]
    charts: dict[str, Path] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    """Where the analysed questions come from, as the report's header names them."""

    run: str  # the run directory, relative to the working directory when under it
    questions: str  # the question file's name
    scores: str  # the name of the scores file beside it (results.json, eval_<stem>.json)
    scored: str | None  # when the scores were written ("2026-12-05 13:47 UTC")


def write_report(run_dir: Path, out_dir: Path | None = None,
                 questions: Path | None = None) -> Report:
    """Analyse a question file (default RUN_DIR/eval_questions.jsonl) and the scores beside
    it; write report.md, slices.json and the charts into `out_dir` (default RUN_DIR/report,
    or RUN_DIR/report_<question file stem> for another question file)."""
    run_dir = Path(run_dir)
    source = questions_path(run_dir, questions)
    records = read_questions(source)
    scores = results_path(source)
    results = read_json_object(scores)
    config = read_json_object(run_dir / CONFIG)
    if out_dir is None:
        out_dir = report_dir(run_dir, questions)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mark_report_folder(out_dir)
    slices = score_slices(records)
    overall = score_all(records)
    report = Report(out_dir / MARKDOWN, slices, records=records)
    report.charts["slices"] = charts.slice_chart(slices, out_dir / "slices.png", overall)
    origin = Source(run_label(run_dir), source.name, scores.name,
                    _modified(scores) or _modified(source))
    answerable = (sum(bool(r["answers"]) for r in records) if abstention.is_v2(records)
                  else None)
    sections = [
        header(origin, results, config, overall, answerable),
        slice_section(slices, overall),
        _abstention_section(records, results, out_dir, report),
        _calibration_section(records, results, out_dir, report),
        wrong_answers_section(records),
    ]
    write_json(out_dir / SLICES,
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


def run_label(run_dir: Path) -> str:
    """The run directory relative to the working directory when it lies below it (e.g.
    outputs/2026-12-05/13-43-38), else as given."""
    try:
        return str(run_dir.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(run_dir)


def _modified(path: Path) -> str | None:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- #
# the header: what was analysed and its headline scores, in words
# --------------------------------------------------------------------------- #


def _section(tree: Any, key: str) -> dict[str, Any]:
    value = tree.get(key) if isinstance(tree, dict) else None
    return value if isinstance(value, dict) else {}


def _is_local_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~", "\\")) or (len(text) > 1 and text[1] == ":")


def model_name(config: dict[str, Any] | None,
               results: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(short name, in full) of the model, as Markdown: its config choice (model.name, e.g.
    `minilm`), in full with the Hub id it loads when that is not a local path; without a
    config, the Hub id results.json records."""
    model = _section(config, "model")
    name, path = model.get("name"), model.get("name_or_path") or (results or {}).get("model")
    hub_id = path if isinstance(path, str) and path and not _is_local_path(path) else None
    if isinstance(name, str) and name:
        short = markdown_text(name)
        return short, short + (f" ({markdown_code(hub_id)})" if hub_id else "")
    return (markdown_code(hub_id),) * 2 if hub_id else (None, None)


def data_name(config: dict[str, Any] | None, results: dict[str, Any] | None,
              questions: str) -> tuple[str | None, str | None]:
    """(short name, where the questions come from): for qa-evaluate's scores the file it
    scored; for a run's own, its data choice (data.name) and eval file or Hub split."""
    data_file = (results or {}).get("data_file")
    if isinstance(data_file, str) and data_file:
        name = PurePath(data_file).name
        return markdown_text(name), markdown_code(name)
    if questions != QUESTIONS:
        return None, None
    data = _section(config, "data")
    name = data.get("name") if isinstance(data.get("name"), str) else None
    where = None
    if isinstance(data.get("eval_file"), str) and data["eval_file"]:
        where = markdown_code(PurePath(data["eval_file"]).name)
    elif isinstance(data.get("dataset_name"), str) and data["dataset_name"]:
        subset = data.get("dataset_config_name")
        hub = data["dataset_name"] + (f" ({subset})" if isinstance(subset, str) else "")
        where = (f"the {markdown_text(data.get('eval_split') or 'validation')} split of "
                 f"{markdown_code(hub)}")
    if name and where:
        where = f"{where} ({markdown_code('data=' + name)})"
    return (markdown_text(name) if name else None), where


def _score(results: dict[str, Any] | None, key: str) -> float | None:
    return finite_number((results or {}).get(key))


def header(source: Source, results: dict[str, Any] | None, config: dict[str, Any] | None,
           overall: SliceScore, answerable: int | None) -> str:
    """The title and a short block in words: model, data, scores (for SQuAD v2 with and
    without an answer, and the no-answer threshold), the run and when it was scored; then the
    scores of results.json in a table, each figure by name. `overall`: the questions' own
    count and scores; `answerable`: how many have an answer (None for SQuAD v1.1)."""
    model, model_in_full = model_name(config, results)
    data, data_source = data_name(config, results, source.questions)
    subject = (f"{model} on {data}" if model and data
               else model or data or markdown_text(PurePath(source.run).name or source.run))
    v2 = answerable is not None
    lines = [f"# Error analysis: {subject}", ""]
    unknown = "not recorded (no config.json in the run directory)"
    lines.append(f"- **Model:** {model_in_full or unknown}")
    what = f"{overall.count} questions" + (f" of {data_source}" if data_source else "")
    if v2:
        what += (f", SQuAD v2: {answerable} with an answer, {overall.count - answerable} "
                 "without")
    else:
        what += ", SQuAD v1.1"
    note = (results or {}).get("eval_note")
    lines.append(f"- **Data:** {what}" + (f". Note: {markdown_text(note)}" if note else ""))
    lines.append(f"- **Scores:** {_headline_scores(results, overall, v2)}")
    threshold = _threshold_in_words(results) if v2 else None
    if threshold:
        lines.append(f"- **No-answer threshold:** {threshold}")
    scored = f", scored {source.scored}" if source.scored else ""
    lines.append(f"- **Run:** {markdown_code(source.run)}{scored}; questions from "
                 f"{markdown_code(source.questions)}, scores from "
                 f"{markdown_code(source.scores)}")
    if results is None:
        lines += ["", f"No readable {markdown_code(source.scores)} beside the questions."]
        return "\n".join(lines)
    rows = [(key, SCORE_LABELS[key], results[key]) for key in SCORE_LABELS if key in results]
    shown_above = all(key in IN_THE_BLOCK and finite_number(value) is not None
                      for key, _, value in rows)
    if not shown_above:  # more than the block shows, or a figure that is not a number
        lines += ["", "| score | value |", "|---|---:|"]
        lines += [f"| {label} | {_value(key, value)} |" for key, label, value in rows]
    return "\n".join(lines)


def _headline_scores(results: dict[str, Any] | None, overall: SliceScore, v2: bool) -> str:
    em, f1 = _score(results, "exact_match"), _score(results, "f1")
    origin = ""
    if em is None or f1 is None:  # no readable scores file: the records' own
        em, f1 = overall.exact_match, overall.f1
        origin = " (computed from the question records)"
    text = f"exact match {em:.2f}, F1 {f1:.2f}{origin}"
    has, no = _score(results, "HasAns_f1"), _score(results, "NoAns_f1")
    if v2 and has is not None and no is not None:
        text += f"; F1 on questions with an answer {has:.2f}, without {no:.2f}"
    return text


def _threshold_in_words(results: dict[str, Any] | None) -> str | None:
    """The no-answer threshold the scored answers used, and the cross-validated F1."""
    section = _section(results, "no_answer_threshold")
    used = section.get("threshold_used")
    if used is None:
        return None
    if isinstance(used, str):
        text = f"{markdown_text(used)}: each question answered with the threshold tuned on " \
               "the other folds"
    else:
        number = finite_number(used)
        text = ("not a number" if number is None else f"{number:.4f}") + (
            " on the no-answer score minus the best answer's score (answer nothing above it)")
    tuned = finite_number(section.get("cross_validated_f1"))
    if tuned is not None:
        text += f"; F1 with a threshold tuned by cross-validation: {tuned:.2f}"
    return text


def figure_rows(section: dict[str, Any], labels: dict[str, str], prefix: str) -> list[str]:
    """Table rows of a results.json section, each figure by its label (an unknown one by its
    name) in the order of `labels`; `how` is left for the text below."""
    leaves = [(key, value) for key, value in _flat(section) if key != "how"]
    order = {key: i for i, key in enumerate(labels)}
    leaves.sort(key=lambda item: order.get(item[0], len(order)))
    return [f"| {_label(key, labels)} | "
            f"{_value(f'{prefix}.{key}', VALUE_WORDS.get(value, value))} |"
            for key, value in leaves]


def _label(key: str, labels: dict[str, str]) -> str:
    return markdown_text(labels[key]) if key in labels else markdown_code(key, in_table=True)


def _figures_table(results: dict[str, Any] | None, name: str, labels: dict[str, str],
                   caption: str, note: str | None = None) -> list[str]:
    """The lines of a results.json section as a table, then `note` and the section's `how`;
    [] without the section."""
    section = _section(results, name)
    if not section:
        return []
    lines = [f"| {caption} | value |", "|---|---:|", *figure_rows(section, labels, name)]
    if note:
        lines += ["", note]
    if section.get("how"):
        lines += ["", f"How: {markdown_text(section['how'])}"]
    return lines


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
        fine = (key.startswith(("calibration.", "stored_calibration.")) or last.startswith(
            "threshold") or last.endswith(("thresh", "threshold")))
        return f"{value:.4f}" if fine else f"{value:.2f}"
    return str(value) if isinstance(value, int) else markdown_text(value)


def calibration_verdict(calibration: dict[str, Any]) -> str | None:
    """In words, when the calibrated confidence scores no better than the raw answer
    probability (ECE or Brier score not lower after calibration): what that means and which
    confidence it concerns. None when both improved or a figure is missing."""
    figures = {name: (finite_number(calibration.get(f"{name}_before")),
                      finite_number(calibration.get(f"{name}_after")))
               for name in ("ece", "brier")}
    if any(None in pair for pair in figures.values()):
        return None
    worse = [f"{label} {figures[name][0]:.4f} -> {figures[name][1]:.4f}"
             for name, label in (("ece", "ECE"), ("brier", "Brier score"))
             if figures[name][1] >= figures[name][0]]
    if not worse:
        return None
    n, folds = calibration.get("questions"), calibration.get("folds")
    fit, questions = "Platt scaling fitted on the other folds", "all the"
    if isinstance(n, int) and isinstance(folds, int) and folds > 1:
        fit = (f"Platt scaling fitted on the other {folds - 1} of {folds} folds (about "
               f"{n * (folds - 1) // folds} of the {n} questions)")
        questions = f"all {n}"
    ece_note = ""
    if figures["ece"][1] < figures["ece"][0]:
        ece_note = (" (ECE improved: it only compares the mean confidence with the share of "
                    "right answers bin by bin, while the Brier score also counts how well the "
                    "confidence tells right answers from wrong ones.)")
    return (f"**Calibration did not help here** ({' and '.join(worse)}; lower is better). "
            f"These figures are out-of-fold: each question's confidence comes from {fit}, and "
            "that fit did not carry over to the questions it left out, most often because "
            "there are too few questions, or too few right answers, to fit it reliably."
            f"{ece_note} So on this data treat the calibrated confidence (this report's, and "
            "the one a training run stores in model/calibration.json for qa-predict and "
            f"qa-evaluate, fitted the same way on {questions} questions) as no better than the "
            "raw answer probability; more evaluation questions (`data.max_eval_samples`) "
            "give a steadier fit.")


# --------------------------------------------------------------------------- #
# the sections
# --------------------------------------------------------------------------- #


def slice_section(slices: dict[str, list[SliceScore]], overall: SliceScore) -> str:
    """EM/F1 per bucket of every slice, read against all the questions; small buckets marked."""
    lines = ["## EM / F1 by slice", "",
             f"All {overall.count} questions: EM {_pct(overall.exact_match)}, F1 "
             f"{_pct(overall.f1)} (the dashed line in the chart). Scores in percent over the "
             "questions of each bucket; empty buckets are left out. A bucket of fewer than "
             f"{SMALL_BUCKET} questions is marked *few* (hatched in the chart): one question "
             "more or less right moves its scores by 5 points or more. Question type is the "
             "first wh-word of the question (\"In what year\" is *what*, whom/whose count as "
             "*who*); answer length and position use the first gold answer; overlap is the "
             "share of the question's content words found in the context.", "",
             "![F1 by slice](slices.png)"]
    for slicer in SLICERS:
        lines += ["", f"### {slicer.title}", "", "| bucket | questions | EM | F1 |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {b.label} | {b.count}{' (few)' if b.small else ''} | "
                  f"{_pct(b.exact_match)} | {_pct(b.f1)} |"
                  for b in slices[slicer.name] if b.count]
    return "\n".join(lines)


def _abstention_section(records, results, out_dir: Path, report: Report) -> str:
    title = "## SQuAD v2: answering or abstaining"
    figures = _figures_table(results, "no_answer_threshold", THRESHOLD_LABELS,
                             "no-answer threshold")
    if not abstention.is_v2(records):
        return f"{title}\n\nNot shown: a SQuAD v1.1 run (the records have no v2 fields)."
    c = abstention.confusion(records)
    lines = [title, "", "| gold \\ run | answered | abstained |", "|---|---:|---:|",
             f"| has an answer | {c.has_answer_answered} | {c.has_answer_abstained} |",
             f"| has no answer | {c.no_answer_answered} | {c.no_answer_abstained} |"]
    if figures:
        lines += ["", "The no-answer threshold of the run (on the no-answer score minus the "
                  "best answer's score; the run answers nothing above it):", "", *figures]
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


def calibration_figures(results: dict[str, Any] | None) -> list[str]:
    """The calibration figures of results.json in words, what they mean when calibration did
    not help, and how they were obtained; [] without them."""
    lines = _figures_table(results, "calibration", CALIBRATION_LABELS, "calibration",
                           calibration_verdict(_section(results, "calibration")))
    stored = _figures_table(results, "stored_calibration", STORED_CALIBRATION_LABELS,
                            "the model's stored calibration")
    return lines + ([""] if lines and stored else []) + stored


def _calibration_section(records, results, out_dir: Path, report: Report) -> str:
    title = "## Confidence: calibration and reliability"
    figures = calibration_figures(results)
    lines = [title, "", *figures, *([""] if figures else [])]
    source = confidence_source(records)
    if source is None:
        lines.append("Reliability diagram not shown: the records hold neither a `confidence` "
                     "nor a `probability` in [0, 1] for every question.")
        return "\n".join(lines)
    name, label = source
    confidence = [r[name] for r in records]
    correct = [r["exact_match"] for r in records]
    bins = reliability_bins(confidence, correct)
    ece = expected_calibration_error(confidence, correct)
    report.charts["reliability"] = charts.reliability_chart(bins, label, ece,
                                                            out_dir / "reliability.png")
    return "\n".join(lines + reliability_text(label, ece, calibrated=name == "confidence"))


def reliability_text(label: str, ece: float, calibrated: bool) -> list[str]:
    """The lines that present the reliability diagram of `label`."""
    note = "" if calibrated else (
        " The run has no calibrated confidence, so this shows the raw answer probability.")
    return [f"Reliability diagram: the exact-match rate against the {label} in {N_BINS} "
            f"equal-width bins; expected calibration error {ece:.4f} (0 is perfect).{note}",
            "", "![Reliability diagram](reliability.png)"]


def wrong_answers_section(records) -> str:
    """The most confident wrong answers: an ordered list, each with a nested list (indented by
    4 spaces, which GitHub and python-markdown both read as nested) of gold, prediction,
    confidence and the marked context."""
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
                  f"{LIST_INDENT}- gold: {markdown_text(gold)}; prediction: "
                  f"{markdown_text(prediction)}; {label} {record[name]:.3f}; "
                  f"F1 {100 * record['f1']:.1f}",
                  f"{LIST_INDENT}- context: {markdown_text(marked_context(record))}"]
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



PREDICTION_COLUMNS = ("id", "question", "gold", "prediction", "probability", "confidence",
                      "exact_match", "f1", "question_type")


def tracker_view(report: Report) -> tuple[dict[str, float | int], dict[str, Path],
                                          tuple[list[str], list[list[Any]]]]:
    """What a tracker shows of a report: flat slice scores, the charts (name -> PNG) and a
    predictions table (columns, rows) to filter errors by."""
    rows = [[r["id"], r["question"], " | ".join(r["answers"]), r["prediction"],
             r.get("probability"), r.get("confidence"), r["exact_match"], r["f1"],
             question_type(r)] for r in report.records]
    return slice_summary(report.slices), dict(report.charts), (list(PREDICTION_COLUMNS), rows)
