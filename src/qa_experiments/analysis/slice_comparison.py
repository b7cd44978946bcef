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
from qa_experiments.analysis.run_files import ReportInputError, read_questions
from qa_experiments.analysis.slices import (
    ALL_QUESTIONS,
    QUESTION_TYPES,
    SLICERS,
    SMALL_BUCKET,
    SliceScore,
    score_all,
    score_slices,
)
from qa_experiments.escaping import csv_cell, markdown_text
from qa_experiments.runs.layout import FINISHED, QUESTIONS, find_job_dirs, job_id

CSV_FIELDS = ("sweep", "job", "backbone", "overrides", "slice", "bucket", "count",
              "exact_match", "f1")


@dataclass(frozen=True)
class JobSlices:
    """A finished job and its slice scores (None with `missing` saying why)."""

    row: JobRow
    slices: dict[str, list[SliceScore]] | None
    missing: str = ""
    overall: SliceScore | None = None  # all the job's questions


def collect_job_slices(sweep_dirs: list[Path], rows: list[JobRow]) -> list[JobSlices]:
    """The slice scores of the finished jobs among `rows` (as collect_jobs orders them)."""
    paths = {
        (label, job_id(job_dir.name)): job_dir
        for sweep_dir, label in zip(sweep_dirs, sweep_labels(sweep_dirs), strict=True)
        for job_dir in find_job_dirs(sweep_dir)
    }
    return [_job_slices(row, paths[row.sweep, row.job]) for row in rows
            if row.status == FINISHED]


def _job_slices(row: JobRow, job_dir: Path) -> JobSlices:
    try:
        records = read_questions(job_dir / QUESTIONS)
    except ReportInputError as error:
        return JobSlices(row, None, str(error))
    return JobSlices(row, score_slices(records), overall=score_all(records))


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
    """One table per slice: a row per job, a column of all its questions then one per
    non-empty bucket, F1 (n) in cells, `few` after n below SMALL_BUCKET; text from the jobs'
    files is escaped."""
    scored = [j for j in jobs if j.slices is not None]
    several = len({j.row.sweep for j in jobs}) > 1
    varying = _varying_overrides([j.row for j in scored])
    out = ["# F1 by slice", "",
           "F1 (percent) of each finished job's evaluated questions, by slice bucket, with the "
           "questions in the bucket in brackets; the first column is all the job's questions. "
           f"A bucket of fewer than {SMALL_BUCKET} questions is marked *few*: one question more "
           "or less right moves its F1 by 5 points or more. Slices as in `qa-report`."]
    for slicer in SLICERS:
        labels = [label for i, label in enumerate(slicer.labels)
                  if any(j.slices[slicer.name][i].count for j in scored)]
        if not labels:
            continue
        out += ["", f"## {slicer.title}", "",
                f"| job | overrides | {ALL_QUESTIONS} | " + " | ".join(labels) + " |",
                "|---|---|---:|" + "---:|" * len(labels)]
        for job in scored:
            buckets = {b.label: b for b in job.slices[slicer.name]}
            cells = [_cell(overall_score(job))] + [_cell(buckets[label]) for label in labels]
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
    if not bucket.count:
        return "-"
    return f"{bucket.f1:.1f} ({bucket.count}{', few' if bucket.small else ''})"


def overall_score(job: JobSlices) -> SliceScore:
    """The job's score over all its questions (from its buckets when not given)."""
    if job.overall is not None:
        return job.overall
    buckets = [b for b in next(iter(job.slices.values())) if b.count]
    count = sum(b.count for b in buckets)
    return SliceScore(ALL_QUESTIONS, count,
                      sum(b.exact_match * b.count for b in buckets) / count,
                      sum(b.f1 * b.count for b in buckets) / count)


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


@dataclass(frozen=True)
class HeatmapCell:
    """One cell of a slice heatmap: a job's bucket (or all its questions, the first column)."""

    f1: float | None  # None: no question of the job in the bucket
    count: int
    small: bool


def heatmap_cells(jobs: list[JobSlices], slicer_name: str,
                  index: list[int]) -> list[list[HeatmapCell]]:
    """Per scored job: all its questions, then the buckets `index` of slice `slicer_name`."""
    rows = []
    for job in jobs:
        buckets = [overall_score(job)] + [job.slices[slicer_name][i] for i in index]
        rows.append([HeatmapCell(b.f1 if b.count else None, b.count, b.small)
                     for b in buckets])
    return rows


SMALL_CELL = {"facecolor": "whitesmoke", "edgecolor": "silver", "hatch": "////",
              "linewidth": 0}


def write_chart(jobs: list[JobSlices], path: Path) -> Path:
    """One heatmap per slice (jobs x buckets, one colour scale), F1 and n written in each
    cell; a first column with all the job's questions; a bucket of fewer than SMALL_BUCKET
    questions grey and hatched, not coloured by its F1."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    scored = [j for j in jobs if j.slices is not None]
    several = len({j.row.sweep for j in jobs}) > 1
    names = [_job_label(j.row, several) for j in scored]
    panels = []
    for slicer in SLICERS:
        index = [i for i in range(len(slicer.labels))
                 if any(j.slices[slicer.name][i].count for j in scored)]
        if index:
            panels.append((slicer, index))
    height = len(panels) * (1.2 + 0.45 * len(scored)) + 1.0
    figure = Figure(figsize=(11, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    image = None
    for ax, (slicer, index) in zip(axes, panels):
        cells = heatmap_cells(scored, slicer.name, index)
        values = [[c.f1 if c.f1 is not None and not c.small else float("nan") for c in row]
                  for row in cells]
        image = ax.imshow(values, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for y, row in enumerate(cells):
            for x, cell in enumerate(row):
                if cell.f1 is None:  # no question of the job in the bucket
                    ax.text(x, y, "-", ha="center", va="center", fontsize=8, color="darkgrey")
                    continue
                if cell.small:
                    ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, gid="small-bucket",
                                           **SMALL_CELL))
                color = ("dimgrey" if cell.small else "white" if cell.f1 < 60 else "black")
                ax.text(x, y, f"{cell.f1:.0f}\nn={cell.count}", ha="center", va="center",
                        fontsize=7, color=color, linespacing=1.1,
                        fontweight="bold" if x == 0 else "normal")
        ax.axvline(0.5, color="white", linewidth=4)  # all questions | the buckets
        labels = [ALL_QUESTIONS] + [slicer.labels[i] for i in index]
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.get_xticklabels()[0].set_fontweight("bold")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title(slicer.title, fontsize=9)
    figure.colorbar(image, ax=list(axes), label="F1 (%)", shrink=0.6)
    figure.suptitle("F1 by slice per job (n = questions in the bucket)", fontsize=11)
    figure.legend(handles=[
        Patch(label=f"fewer than {SMALL_BUCKET} questions: F1 unreliable, not coloured",
              **{**SMALL_CELL, "linewidth": 1}),
        Patch(label="-: no question of the job in the bucket", facecolor="white",
              edgecolor="darkgrey", linewidth=1)],
        loc="outside lower center", ncols=2, fontsize=8, frameon=False)
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
