"""Compare the jobs of Hydra multirun sweeps locally: a table, a CSV file and an F1 bar chart.

`qa-compare` (qa_experiments/compare.py) reads each job's status.json, results.json,
config.json and .hydra/overrides.yaml, prints the jobs best first and writes comparison.md,
comparison.csv and comparison.png. Sweeps still running or partly failed
are fine: a missing or half-written file only leaves a job "unknown". Finished jobs with an
eval_questions.jsonl also get the slice view (F1 by question type, answer length, ...):
comparison_slices.md/.csv/.png (analysis/slice_comparison.py).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from qa_experiments.analysis.run_files import finite_number
from qa_experiments.escaping import csv_cell, markdown_text
from qa_experiments.runs import layout
from qa_experiments.runs.layout import FAILED, FINISHED, PRUNED, RUNNING

log = logging.getLogger(__name__)

# A job's status in the table: one of status.json's, or unknown (none, or finished without
# usable results). Sort order: finished jobs (by F1) first, failed ones last.
UNKNOWN = "unknown"
STATUS_RANK = {FINISHED: 0, RUNNING: 1, PRUNED: 2, UNKNOWN: 3, FAILED: 4}
ERROR_WIDTH = 80
LABEL_WIDTH = 60


@dataclass(frozen=True)
class JobRow:
    """One job of a sweep, as the comparison shows it."""

    sweep: str
    job: str
    overrides: str
    backbone: str
    status: str
    exact_match: float | None = None
    f1: float | None = None
    train_runtime: float | None = None
    train_samples_per_second: float | None = None
    error: str = ""


# --------------------------------------------------------------------------- #
# reading a sweep
# --------------------------------------------------------------------------- #


def collect_jobs(sweep_dirs: list[Path]) -> list[JobRow]:
    """The jobs of all `sweep_dirs`, best first: finished by F1, running/unknown, failed."""
    sweep_dirs = [Path(d) for d in sweep_dirs]
    rows = [
        read_job(job_dir, label)
        for sweep_dir, label in zip(sweep_dirs, sweep_labels(sweep_dirs), strict=True)
        for job_dir in layout.find_job_dirs(sweep_dir)
    ]
    return sort_rows(rows)


def sort_rows(rows: list[JobRow]) -> list[JobRow]:
    """Rows best first; the sort is stable, so ties keep sweep and job order."""

    def key(row: JobRow) -> tuple[int, float]:
        rank = STATUS_RANK.get(row.status, STATUS_RANK[UNKNOWN])
        return rank, -(row.f1 or 0.0) if rank == 0 else 0.0

    return sorted(rows, key=key)


def sweep_labels(sweep_dirs: list[Path]) -> list[str]:
    """Short names for the sweeps: `<date>/<time>`, or the whole path when those collide."""
    labels = ["/".join(d.resolve().parts[-2:]) for d in sweep_dirs]
    return labels if len(set(labels)) == len(labels) else [str(d) for d in sweep_dirs]


def read_job(job_dir: Path, sweep: str = "") -> JobRow:
    """One job's row; missing or unreadable files never raise, they leave fields empty."""
    status_doc = layout.read_json_object(job_dir / layout.STATUS) or {}
    results = _read_results(job_dir / layout.RESULTS)
    overrides = _read_overrides(job_dir, status_doc)
    status, error = _job_status(status_doc, results)
    metrics = results or {}
    return JobRow(
        sweep=sweep,
        job=layout.job_id(job_dir.name),
        overrides=" ".join(overrides),
        backbone=_backbone(layout.read_json_object(job_dir / layout.CONFIG), overrides),
        status=status,
        exact_match=finite_number(metrics.get("exact_match")),
        f1=finite_number(metrics.get("f1")),
        train_runtime=finite_number(metrics.get("train_runtime")),
        train_samples_per_second=finite_number(metrics.get("train_samples_per_second")),
        error=error,
    )


def _read_results(path: Path) -> dict[str, Any] | None:
    """results.json when it is complete enough to rank the job (it has a finite F1)."""
    results = layout.read_json_object(path)
    return results if results and finite_number(results.get("f1")) is not None else None


def _read_overrides(job_dir: Path, status_doc: dict[str, Any]) -> list[str]:
    """The job's overrides from .hydra/overrides.yaml, else from status.json."""
    try:
        overrides_file = job_dir / layout.HYDRA_DIR / layout.OVERRIDES
        data = yaml.safe_load(overrides_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    if not isinstance(data, list):
        data = status_doc.get("overrides")
    return [str(item) for item in data] if isinstance(data, list) else []


def _job_status(status_doc: dict[str, Any], results: dict[str, Any] | None) -> tuple[str, str]:
    """(status, error) from status.json and whether results.json could be read."""
    state = status_doc.get("status")
    if state == FAILED:
        return FAILED, short_error(status_doc.get("error")) or "failed (no error recorded)"
    if state == PRUNED:  # stopped by an Optuna pruner: not a failure (see intermediate.json)
        return PRUNED, ""
    if results is not None:
        return FINISHED, ""
    if state == FINISHED:
        return UNKNOWN, f"{layout.RESULTS} missing, unreadable or without a finite F1"
    return (state if state == RUNNING else UNKNOWN), ""


def _backbone(config: dict[str, Any] | None, overrides: list[str]) -> str:
    """config["model"]["name"], else the `model=` override, else "?"."""
    model = (config or {}).get("model")
    if isinstance(model, dict) and model.get("name"):
        return str(model["name"])
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        if sep and key == "model":
            return value
    return "?"


def short_error(error: Any, width: int = ERROR_WIDTH) -> str:
    """The first non-empty line of an error message, cut to `width` characters."""
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= width else first[: width - 3] + "..."


# --------------------------------------------------------------------------- #
# tables
# --------------------------------------------------------------------------- #

# (header, cell text, right-aligned)
Column = tuple[str, Callable[[JobRow], str], bool]


def _columns(rows: list[JobRow], text: Callable[[str], str] = str) -> list[Column]:
    """The table's columns; `sweep` only for several sweeps, `error` only when there is one.
    `text` formats what was read from the job's files (e.g. escapes it for Markdown)."""
    columns: list[Column] = [
        ("job", lambda r: text(r.job), False),
        ("backbone", lambda r: text(r.backbone), False),
        ("overrides", lambda r: text(r.overrides) or "-", False),
        ("status", lambda r: text(r.status), False),
        ("EM", lambda r: _fmt(r.exact_match), True),
        ("F1", lambda r: _fmt(r.f1), True),
        ("train time", lambda r: fmt_duration(r.train_runtime), True),
        ("samples/s", lambda r: _fmt(r.train_samples_per_second, 1), True),
    ]
    if len({r.sweep for r in rows}) > 1:
        columns.insert(0, ("sweep", lambda r: text(r.sweep), False))
    if any(r.error for r in rows):
        columns.append(("error", lambda r: text(r.error), False))
    return columns


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_duration(seconds: float | None) -> str:
    """`42s`, `12m05s` or `3h07m`; `-` when unknown."""
    if seconds is None:
        return "-"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def format_table(rows: list[JobRow]) -> str:
    """A plain-text table with aligned columns, in the order of `rows`."""
    columns = _columns(rows)
    cells = [[header for header, _, _ in columns]]
    cells += [[cell(row) for _, cell, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    cells.insert(1, ["-" * width for width in widths])

    def render(line: list[str]) -> str:
        parts = [
            text.rjust(width) if right else text.ljust(width)
            for text, width, (_, _, right) in zip(line, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join(render(line) for line in cells)


def format_markdown(rows: list[JobRow]) -> str:
    """A Markdown table of `rows`, with a heading; text from the jobs' files is escaped."""
    columns = _columns(rows, markdown_text)

    def line(texts: list[str]) -> str:
        return "| " + " | ".join(texts) + " |"

    out = ["# Sweep comparison", "", line([header for header, _, _ in columns])]
    out.append("|" + "|".join("---:" if right else "---" for _, _, right in columns) + "|")
    out += [line([cell(row) for _, cell, _ in columns]) for row in rows]
    return "\n".join(out) + "\n"


def write_csv(rows: list[JobRow], path: Path) -> Path:
    """All JobRow fields, raw numbers; empty cells for missing values; text that a
    spreadsheet would run as a formula starts with an apostrophe."""
    names = [field.name for field in fields(JobRow)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else csv_cell(v) for k, v in asdict(row).items()})
    return path


# --------------------------------------------------------------------------- #
# chart
# --------------------------------------------------------------------------- #


def write_chart(rows: list[JobRow], path: Path) -> Path | None:
    """A horizontal bar chart of F1 per job, coloured by backbone; None without matplotlib."""
    try:
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError:
        log.warning("matplotlib is not installed: %s not written", path.name)
        return None

    ordered = _group_by_backbone(rows)
    backbones = list(dict.fromkeys(row.backbone for row in ordered))
    palette = colormaps["tab10"]
    colours = {name: palette(i % 10) for i, name in enumerate(backbones)}
    labels, common = _chart_labels(ordered)
    scores = [row.f1 for row in ordered if row.status == FINISHED and row.f1 is not None]
    right = max(scores) * 1.12 if scores and max(scores) > 0 else 100.0  # all-zero F1: 0-100

    fig = Figure(figsize=(10, 1.6 + 0.32 * len(ordered)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(len(ordered)))[::-1]  # best at the top
    for y, row in zip(ys, ordered, strict=True):
        if row.status == FINISHED and row.f1 is not None:
            ax.barh(y, row.f1, color=colours[row.backbone], height=0.7)
            ax.text(row.f1 + right * 0.01, y, f"{row.f1:.1f}", va="center", fontsize=8)
        else:
            colour = "tab:red" if row.status == FAILED else "grey"
            ax.text(right * 0.01, y, f"({row.status})", va="center", fontsize=8, color=colour)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlim(0, right)
    ax.set_ylim(-0.6, len(ordered) - 0.4)
    ax.set_xlabel("F1 (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    title = "F1 per job"
    if common:
        title += "\n" + _cut("all jobs: " + " ".join(common), 110)
    ax.set_title(title, fontsize=10)
    handles = [Patch(color=colours[name], label=name) for name in backbones]
    ax.legend(
        handles=handles, title="backbone", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0)
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _group_by_backbone(rows: list[JobRow]) -> list[JobRow]:
    """Rows grouped by backbone (the group with the best job first), best first within each."""
    order = {name: i for i, name in enumerate(dict.fromkeys(row.backbone for row in rows))}
    return sorted(rows, key=lambda row: order[row.backbone])


def _chart_labels(rows: list[JobRow]) -> tuple[list[str], list[str]]:
    """Bar labels (job and the overrides that differ between jobs) and the shared overrides."""
    tokens = [row.overrides.split() for row in rows]
    common = [t for t in tokens[0] if all(t in other for other in tokens[1:])] if tokens else []
    several_sweeps = len({row.sweep for row in rows}) > 1
    labels = []
    for row, items in zip(rows, tokens, strict=True):
        varying = " ".join(t for t in items if t not in common) or row.overrides or "-"
        job = f"{row.sweep} #{row.job}" if several_sweeps else f"#{row.job}"
        labels.append(_cut(f"{job}: {varying}", LABEL_WIDTH))
    return labels, common if len(rows) > 1 else []


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# --------------------------------------------------------------------------- #
# reports and CLI
# --------------------------------------------------------------------------- #


def write_reports(rows: list[JobRow], out_dir: Path) -> list[Path]:
    """Write comparison.md, comparison.csv and comparison.png into `out_dir`; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / "comparison.md"
    markdown.write_text(format_markdown(rows), encoding="utf-8")
    written = [markdown, write_csv(rows, out_dir / "comparison.csv")]
    chart = write_chart(rows, out_dir / "comparison.png")
    return written + ([chart] if chart else [])


def summary_line(rows: list[JobRow]) -> str:
    """`N jobs: a finished, b failed, ...`."""
    counts = {status: sum(r.status == status for r in rows) for status in STATUS_RANK}
    parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    return f"{len(rows)} jobs: {parts}"
