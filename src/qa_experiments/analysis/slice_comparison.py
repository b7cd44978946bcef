"""qa-compare's slice view: F1 per slice bucket for every finished job of one or more sweeps.

Each job's slices come from its eval_questions.jsonl (analysis/slices.py), so jobs are compared
on the same buckets (e.g. which backbone answers "why" questions better). Written as
comparison_slices.md (one table per slice, jobs as rows), comparison_slices.csv (long format)
and comparison_slices.png (one heatmap per slice).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa_experiments.analysis.comparison import JobRow, sweep_labels
from qa_experiments.analysis.escaping import csv_cell, markdown_text
from qa_experiments.analysis.run_files import QUESTIONS_FILE, ReportInputError, read_questions
from qa_experiments.analysis.slices import QUESTION_TYPES, SLICERS, SliceScore, score_slices
from qa_experiments.runs.layout import find_job_dirs, job_id

CSV_FIELDS = ("sweep", "job", "backbone", "overrides", "slice", "bucket", "count",
              "exact_match", "f1")


@dataclass(frozen=True)
class JobSlices:
    """A finished job and its slice scores (None with `missing` saying why)."""

    row: JobRow
    slices: dict[str, list[SliceScore]] | None
    missing: str = ""


def collect_job_slices(sweep_dirs: list[Path], rows: list[JobRow]) -> list[JobSlices]:
    """The slice scores of the finished jobs among `rows` (as collect_jobs orders them)."""
    paths = {
        (label, job_id(job_dir.name)): job_dir
        for sweep_dir, label in zip(sweep_dirs, sweep_labels(sweep_dirs), strict=True)
        for job_dir in find_job_dirs(sweep_dir)
    }
    return [_job_slices(row, paths[row.sweep, row.job]) for row in rows
            if row.status == "finished"]


def _job_slices(row: JobRow, job_dir: Path) -> JobSlices:
    try:
        records = read_questions(job_dir / QUESTIONS_FILE)
    except ReportInputError as error:
        return JobSlices(row, None, str(error))
    return JobSlices(row, score_slices(records))


def _job_label(row: JobRow, several_sweeps: bool, text: Callable[[str], str] = str) -> str:
    """`#<job> <backbone>`, after the sweep's label for several sweeps; `text` formats what was
    read from the job's files (e.g. escapes it for Markdown)."""
    job = f"{text(row.sweep)} #{text(row.job)}" if several_sweeps else f"#{text(row.job)}"
    return f"{job} {text(row.backbone)}"


def _varying_overrides(rows: list[JobRow]) -> dict[tuple[str, str], str]:
    """Per job, the overrides that not every job shares ("" for none)."""
    tokens = {(r.sweep, r.job): r.overrides.split() for r in rows}
    common = set.intersection(*(set(t) for t in tokens.values())) if len(tokens) > 1 else set()
    return {key: " ".join(t for t in items if t not in common)
            for key, items in tokens.items()}


def format_markdown(jobs: list[JobSlices]) -> str:
    """One table per slice: a row per job, a column per non-empty bucket, F1 (n) in cells;
    text from the jobs' files is escaped."""
    scored = [j for j in jobs if j.slices is not None]
    several = len({j.row.sweep for j in jobs}) > 1
    varying = _varying_overrides([j.row for j in scored])
    out = ["# F1 by slice", "",
           "F1 (percent) of each finished job's evaluated questions, by slice bucket (n = "
           "questions in the bucket). Slices as in `qa-report`."]
    for slicer in SLICERS:
        labels = [label for i, label in enumerate(slicer.labels)
                  if any(j.slices[slicer.name][i].count for j in scored)]
        if not labels:
            continue
        out += ["", f"## {slicer.title}", "",
                "| job | overrides | " + " | ".join(labels) + " |",
                "|---|---|" + "---:|" * len(labels)]
        for job in scored:
            buckets = {b.label: b for b in job.slices[slicer.name]}
            cells = [_cell(buckets[label]) for label in labels]
            overrides = markdown_text(varying[job.row.sweep, job.row.job]) or "-"
            out.append(f"| {_job_label(job.row, several, markdown_text)} | {overrides} | "
                       + " | ".join(cells) + " |")
    skipped = [j for j in jobs if j.slices is None]
    if skipped:
        out += ["", "Finished jobs without slices:"]
        out += [f"- {_job_label(j.row, several, markdown_text)}: {markdown_text(j.missing)}"
                for j in skipped]
    return "\n".join(out) + "\n"


def _cell(bucket: SliceScore) -> str:
    return "-" if not bucket.count else f"{bucket.f1:.1f} ({bucket.count})"


def format_question_types(jobs: list[JobSlices]) -> str:
    """The console view: F1 by question type, a line per job."""
    scored = [j for j in jobs if j.slices is not None]
    several = len({j.row.sweep for j in jobs}) > 1
    names = [_job_label(j.row, several) for j in scored]
    width = max(len("job"), *(len(n) for n in names))
    header = "job".ljust(width) + "".join(f"{t:>8}" for t in QUESTION_TYPES)
    lines = ["F1 by question type:", header]
    for name, job in zip(names, scored):
        cells = [("-" if not b.count else f"{b.f1:.1f}") for b in job.slices["question_type"]]
        lines.append(name.ljust(width) + "".join(f"{c:>8}" for c in cells))
    return "\n".join(lines)


def write_csv(jobs: list[JobSlices], path: Path) -> Path:
    """One row per job, slice and non-empty bucket; text that a spreadsheet would run as a
    formula starts with an apostrophe."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for job in jobs:
            for name, buckets in (job.slices or {}).items():
                for b in buckets:
                    if b.count:
                        writer.writerow({
                            "sweep": csv_cell(job.row.sweep), "job": csv_cell(job.row.job),
                            "backbone": csv_cell(job.row.backbone),
                            "overrides": csv_cell(job.row.overrides),
                            "slice": name, "bucket": b.label, "count": b.count,
                            "exact_match": b.exact_match, "f1": b.f1})
    return path


def write_chart(jobs: list[JobSlices], path: Path) -> Path:
    """One heatmap per slice (jobs x buckets, F1 written in each cell), one colour scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scored = [j for j in jobs if j.slices is not None]
    several = len({j.row.sweep for j in jobs}) > 1
    names = [_job_label(j.row, several) for j in scored]
    panels = []
    for slicer in SLICERS:
        index = [i for i in range(len(slicer.labels))
                 if any(j.slices[slicer.name][i].count for j in scored)]
        if index:
            panels.append((slicer, index))
    height = len(panels) * (1.3 + 0.32 * len(scored)) + 0.6
    figure = Figure(figsize=(11, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    image = None
    for ax, (slicer, index) in zip(axes, panels):
        values = [[j.slices[slicer.name][i].f1 if j.slices[slicer.name][i].count else float("nan")
                   for i in index] for j in scored]
        image = ax.imshow(values, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for y, row in enumerate(values):
            for x, value in enumerate(row):
                if value == value:  # not nan
                    ax.text(x, y, f"{value:.0f}", ha="center", va="center", fontsize=8,
                            color="white" if value < 60 else "black")
        ax.set_xticks(range(len(index)), [slicer.labels[i] for i in index], fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title(slicer.title, fontsize=9)
    figure.colorbar(image, ax=list(axes), label="F1 (%)", shrink=0.6)
    figure.suptitle("F1 by slice per job", fontsize=11)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def has_slices(jobs: list[JobSlices]) -> bool:
    """Whether any job has question records to slice."""
    return any(j.slices is not None for j in jobs)


SLICE_FILES = ("comparison_slices.md", "comparison_slices.csv", "comparison_slices.png")


def write_slice_view(jobs: list[JobSlices], out_dir: Path) -> list[Path]:
    """Write comparison_slices.md, .csv and .png; [] when no job has question records (and
    those of an earlier comparison in `out_dir` are removed: they would describe other jobs)."""
    markdown, table, chart = (out_dir / name for name in SLICE_FILES)
    if not has_slices(jobs):
        for path in (markdown, table, chart):
            path.unlink(missing_ok=True)
        return []
    markdown.write_text(format_markdown(jobs), encoding="utf-8")
    return [markdown, write_csv(jobs, table), write_chart(jobs, chart)]
