"""qa-report --out writes only into a new or empty folder, or one a report was written into
before: a file of the report's names that the user made there is never replaced."""

from __future__ import annotations

import subprocess
import sys


def qa_report(run_dir, out) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa_experiments.report", str(run_dir),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)


def test_a_users_own_report_md_is_never_replaced(tiny_run, tmp_path):
    (tmp_path / "report.md").write_text("my notes")
    done = qa_report(tiny_run, tmp_path)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa-report: error: ")
    assert "report.md, which qa-report did not write" in lines[0]
    assert (tmp_path / "report.md").read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_a_report_is_written_again_where_one_was_written_before(tiny_run, tmp_path):
    out = tmp_path / "analysis"
    for _ in range(2):
        done = qa_report(tiny_run, out)
        assert done.returncode == 0, done.stderr
    assert (out / "report.md").read_text().startswith("# Error analysis")
