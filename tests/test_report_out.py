"""qa-report --out writes only into a new or empty folder, or one a report was written into
before: a file of the report's names that the user made there is never replaced."""

from __future__ import annotations

import subprocess
import sys


def qa_report(run_dir, out) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa_experiments.report", str(run_dir),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)


def test_a_users_own_report_md_is_never_replaced_but_a_reports_own_is(tiny_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my notes")
    done = qa_report(tiny_run, mine)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa-report: error: ")
    assert "report.md, which qa-report did not write" in lines[0]
    assert (mine / "report.md").read_text() == "my notes"
    assert sorted(p.name for p in mine.iterdir()) == ["report.md"]
    out = tmp_path / "analysis"
    for _ in range(2):  # the second time over the first report's files
        done = qa_report(tiny_run, out)
        assert done.returncode == 0, done.stderr
    assert (out / "report.md").read_text().startswith("# Error analysis")
