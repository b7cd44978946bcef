"""Which folder an error-analysis report may be written into: a new or empty one, or one that
a report was written into before (its marker file), never over files someone else made."""

from __future__ import annotations

from pathlib import Path

from qa_experiments.errors import UserError
from qa_experiments.runs.atomic import write_text

MARKDOWN, SLICES = "report.md", "slices.json"
CHART_FILES = ("slices.png", "no_answer_threshold.png", "answerability_pr.png", "reliability.png")
MARKER = ".qa-report"  # written with every report: the folder's report files may be replaced


class ReportFolderError(UserError, ValueError):
    """A folder holding files of a report's names that no report wrote."""


def check_report_folder(out_dir: Path) -> None:
    """ReportFolderError when writing a report into `out_dir` would replace a file that no
    earlier report wrote there."""
    if (out_dir / MARKER).is_file():
        return
    taken = [name for name in (MARKDOWN, SLICES, *CHART_FILES) if (out_dir / name).exists()]
    if taken:
        raise ReportFolderError(
            f"--out {str(out_dir)!r} holds {', '.join(taken)}, which qa-report did not write "
            f"(no {MARKER} there) and would replace; give a new or empty directory.")


def mark_report_folder(out_dir: Path) -> None:
    """Record that `out_dir` holds a report, whose files a later report may replace."""
    write_text(out_dir / MARKER, "This folder holds a report that qa-report wrote; it "
               "replaces report.md, slices.json and the charts when it writes one here again.\n")
