"""Which folder a report may be written into (analysis.report_folder)."""

from __future__ import annotations

import pytest

from qa_experiments.analysis.report_folder import (
    ReportFolderError,
    check_report_folder,
    mark_report_folder,
)


def test_a_new_or_unrelated_folder_takes_a_report(tmp_path):
    check_report_folder(tmp_path / "new")
    (tmp_path / "notes.txt").write_text("mine")
    check_report_folder(tmp_path)


@pytest.mark.parametrize("name", ["report.md", "slices.json", "reliability.png"])
def test_a_file_of_a_reports_name_that_no_report_wrote_is_refused(tmp_path, name):
    (tmp_path / name).write_text("mine")
    with pytest.raises(ReportFolderError, match=f"holds {name}, which qa-report did not"):
        check_report_folder(tmp_path)


def test_a_folder_a_report_was_written_into_takes_another(tmp_path):
    (tmp_path / "report.md").write_text("# Error analysis")
    mark_report_folder(tmp_path)
    check_report_folder(tmp_path)
