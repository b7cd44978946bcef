"""Tests for qa_experiments.analysis.comparison on fake Hydra multirun sweep directories."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from helpers import make_job, metrics
from qa_experiments.analysis.comparison import collect_jobs, format_table, read_job, write_reports
from qa_experiments.compare import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OOM = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Three finished jobs, a failed one, one with only .hydra/, one half-written results.json."""
    root = tmp_path / "multirun" / "2024-06-01" / "10-00-00"
    root.mkdir(parents=True)
    (root / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    fin = {"status": "finished"}
    jobs = [  # name, overrides, files
        ("0", "model=bert optimizer.lr=3e-05", fin | {"results": metrics(80.1, 87.65)}),
        ("1", "model=roberta optimizer.lr=2e-05", fin | {"results": metrics(83.4, 90.12, 3725, 8)}),
        ("2", "model=minilm optimizer.lr=5e-05", fin | {"results": metrics(71.0, 80.5, 42.0)}),
        ("3", "model=bert optimizer.lr=0.001", {"status": "failed", "error": f"{OOM}\nTraceback"}),
        ("4", "model=roberta optimizer.lr=1e-05", {}),
        ("5", "model=minilm optimizer.lr=1e-04", {"results": '{"exact_match": 75.2, "f1": 8'}),
    ]
    for name, overrides, files in jobs:
        backbone = overrides.split()[0].removeprefix("model=") if "status" in files else None
        overrides = [*overrides.split(), "trainer.num_train_epochs=1"]
        make_job(root, name, overrides, backbone=backbone, **files)
    return root


def test_collect_jobs_orders_best_first_failed_last(sweep: Path) -> None:
    rows = collect_jobs([sweep])
    assert [(r.job, r.status) for r in rows] == [
        ("1", "finished"),
        ("0", "finished"),
        ("2", "finished"),
        ("4", "unknown"),
        ("5", "unknown"),
        ("3", "failed"),
    ]
    best, failed = rows[0], rows[-1]
    assert best.backbone == "roberta" and best.f1 == 90.12 and best.exact_match == 83.4
    assert best.overrides == "model=roberta optimizer.lr=2e-05 trainer.num_train_epochs=1"
    assert best.sweep == "2024-06-01/10-00-00"
    assert failed.error == OOM and failed.f1 is None
    assert rows[3].backbone == "roberta"  # no config.json yet: taken from the model= override
    assert rows[4].f1 is None  # the half-written results.json is ignored


@pytest.mark.parametrize(
    ("files", "status", "error"),
    [
        ({"status.json": '{"status": "runn'}, "unknown", ""),
        ({"status.json": '{"status": "running", "error": null}'}, "running", ""),
        ({"status.json": '{"status": "finished"}'}, "unknown", "results.json missing"),
        ({"results.json": json.dumps(metrics(70.0, 75.0))}, "finished", ""),
        ({"status.json": json.dumps({"status": "failed", "error": "x" * 200})}, "failed", "xxx"),
        ({"status.json": "[1, 2]", "results.json": '{"f1": "high"}'}, "unknown", ""),
    ],
)
def test_read_job_tolerates_partial_files(tmp_path, files, status, error) -> None:
    job = tmp_path / "7_model=bert,optimizer.lr=2e-5"
    job.mkdir()
    for name, text in files.items():
        (job / name).write_text(text)
    row = read_job(job, "s")
    assert (row.job, row.status) == ("7", status)
    assert row.error.startswith(error) and len(row.error) <= 80
    assert row.backbone == "?" and row.overrides == ""


def test_main_prints_every_job_and_writes_reports(sweep: Path, capsys) -> None:
    assert main([str(sweep)]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()
    header = table[0].split()
    for column in ("job", "overrides", "status", "EM", "F1", "samples/s", "error"):
        assert column in header
    assert "sweep" not in header
    assert [line.split()[0] for line in table[2:]] == ["1", "0", "2", "4", "5", "3"]
    assert "90.12" in table[2] and "1h02m" in table[2] and "8.0" in table[2]
    assert "failed" in table[-1] and OOM in table[-1]
    assert "6 jobs: 3 finished, 2 unknown, 1 failed" in out

    markdown = (sweep / "comparison.md").read_text()
    for row in collect_jobs([sweep]):
        assert f"| {row.job} | {row.backbone} | {row.overrides} | {row.status} |" in markdown
    assert "| 83.40 | 90.12 | 1h02m |" in markdown and OOM in markdown

    with (sweep / "comparison.csv").open(newline="") as handle:
        records = list(csv.DictReader(handle))
    assert [r["job"] for r in records] == ["1", "0", "2", "4", "5", "3"]
    assert float(records[1]["f1"]) == 87.65 and float(records[1]["train_runtime"]) == 725.3
    assert records[3]["f1"] == "" and records[5]["error"] == OOM

    assert (sweep / "comparison.png").read_bytes()[:8] == PNG_MAGIC


def test_two_sweeps_and_out_dir(sweep: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "multirun" / "2024-06-02" / "09-30-00"
    make_job(
        other,
        "0_model=bert,optimizer.lr=5e-05",
        ["model=bert", "optimizer.lr=5e-05"],
        status="finished",
        results=metrics(85.0, 91.0),
        backbone="bert",
    )
    make_job(
        other,
        "1_model=bert,optimizer.lr=1e-05",
        ["model=bert", "optimizer.lr=1e-05"],
        status="running",
        backbone="bert",
    )
    out_dir = tmp_path / "report"

    assert main([str(sweep), str(other), "--out", str(out_dir)]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()
    assert table[0].split()[0] == "sweep"
    assert table[2].split()[:2] == ["2024-06-02/09-30-00", "0"]
    assert len(table) == 2 + 8
    assert any(
        line.split()[:2] == ["2024-06-02/09-30-00", "1"] and "running" in line for line in table
    )
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "comparison.csv",
        "comparison.md",
        "comparison.png",
    ]
    assert not (sweep / "comparison.md").exists()


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_bad_directory_exits_2(tmp_path: Path, capsys, kind: str) -> None:
    target = tmp_path / "nope"
    if kind == "empty":
        target.mkdir()
    assert main([str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(target) in err


def test_write_reports_single_job(tmp_path: Path) -> None:
    job = make_job(tmp_path / "s", "0", ["model=bert"], status="failed", error="boom")
    rows = [read_job(job)]
    paths = write_reports(rows, tmp_path / "out")
    assert [p.name for p in paths] == ["comparison.md", "comparison.csv", "comparison.png"]
    assert "boom" in format_table(rows)


def test_non_finite_scores_show_as_unknown(tmp_path: Path, capsys) -> None:
    nan = '{"exact_match": NaN, "f1": NaN, "train_runtime": Infinity}'
    make_job(tmp_path, "0", ["optimizer.lr=1.0"], status="finished", results=nan)
    make_job(tmp_path, "1", ["optimizer.lr=1e-5"], status="finished",
             results=metrics(50.0, 60.0, runtime=float("inf")))
    assert main([str(tmp_path)]) == 0
    rows = {row.job: row for row in collect_jobs([tmp_path])}
    assert (rows["0"].status, rows["0"].f1, rows["0"].exact_match) == ("unknown", None, None)
    assert (rows["1"].status, rows["1"].train_runtime) == ("finished", None)
    assert "without a finite F1" in capsys.readouterr().out
    assert (tmp_path / "comparison.png").read_bytes().startswith(PNG_MAGIC)
