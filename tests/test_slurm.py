"""Against a real SLURM: the one-node cluster of scripts/slurm-local.sh runs a sweep through the
submitit launcher, a 2-rank DDP job, and a job signalled like a preemption that is requeued and
continues from its checkpoint. Needs root and Debian's slurm-wlm and munge (.ci/run installs
them); skipped only where `sbatch` is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import FAST, RESUMABLE, assert_one_wandb_run_across_attempts
from helpers import start as run_locally
from qa_experiments.analysis.comparison import collect_jobs
from qa_experiments.compare import main as compare_main

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sbatch") is None,
                       reason="SLURM is not installed (apt-get install -y slurm-wlm munge)"),
]

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "slurm-local.sh"
ON_LOCAL_CLUSTER = ["hydra/launcher=slurm_cpu", "hydra.launcher.partition=local"]
SHORTER = ["data.max_train_samples=60", "trainer.save_steps=5"]  # than test_resilience's run


@pytest.fixture(scope="session", autouse=True)
def cluster():
    """The one-node cluster, up for the session; stopped after it if this session started it."""
    was_up = subprocess.run([SCRIPT, "status"], capture_output=True).returncode == 0
    subprocess.run([SCRIPT, "start"], check=True, timeout=120)
    yield
    if not was_up:
        subprocess.run([SCRIPT, "stop"], check=True, timeout=120)


def command(sweep: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "qa_experiments.train", "-m", *ON_LOCAL_CLUSTER, *overrides,
            f"hydra.sweep.dir={sweep}"]


def multirun(sweep: Path, *overrides: str) -> subprocess.CompletedProcess:
    """The sweep, submitted from an environment that names a W&B service which no longer runs:
    what a job inherits from a notebook or script that used W&B and ended (or is on another
    node). Each job must start its own service, and own every file it writes."""
    gone = {**os.environ, "WANDB_SERVICE": f"3-1-unix-{sweep.parent}/gone.sock"}
    return subprocess.run(command(sweep, *FAST, *overrides), capture_output=True, text=True,
                          timeout=600, env=gone)


def status(job_dir: Path) -> str:
    return json.loads((job_dir / "status.json").read_text())["status"]


def test_sweep_runs_each_job_on_the_cluster_and_reuses_finished_ones(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    # A negative learning rate is refused inside its SLURM job: job 1 fails, job 0 finishes.
    jobs = ["model=tiny_bert", "optimizer.lr=1e-4,-1.0", "logger=wandb",
            "logger.wandb.mode=offline"]
    done = multirun(sweep, *jobs)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [status(sweep / str(i)) for i in range(2)] == ["finished", "failed"]
    assert (sweep / "0" / "results.json").is_file()
    assert len(list((sweep / "0" / "wandb").glob("offline-run-*"))) == 1
    logs = sorted(p.name for p in sweep.glob(".submitit/*/*_0_log.out"))
    assert len(logs) == 2, logs  # submitit's logs, one folder per SLURM array task
    assert compare_main([str(sweep)]) == 0
    assert "finished" in capsys.readouterr().out

    finished = {p: p.read_bytes() for p in (sweep / "0").rglob("*") if p.is_file()}
    again = multirun(sweep, *jobs)
    assert again.returncode == 0, again.stderr[-3000:]
    assert any("reusing its results" in log.read_text()
               for log in sweep.glob(".submitit/*/*_0_log.*"))
    assert {p: p.read_bytes() for p in (sweep / "0").rglob("*") if p.is_file()} == finished
    rows = {row.job: row for row in collect_jobs([sweep])}
    assert (rows["0"].status, rows["1"].status) == ("finished", "failed")
    assert "optimizer.lr=-1.0 is out of range" in rows["1"].error


def test_two_tasks_train_as_two_ddp_ranks_in_one_run_dir(tmp_path):
    sweep = tmp_path / "sweep"
    done = multirun(sweep, "model=tiny_bert", "hydra.launcher.tasks_per_node=2",
                    "logger=wandb", "logger.wandb.mode=offline")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in sweep.iterdir() if p.is_dir() and p.name[0] != "."] == ["0"]
    assert status(sweep / "0") == "finished"
    assert json.loads((sweep / "0" / "results.json").read_text())["world_size"] == 2
    assert len(list((sweep / "0" / "wandb").glob("offline-run-*"))) == 1  # rank 0 only
    assert len(list(sweep.glob(".submitit/*/*_log.out"))) == 2  # one per task


def test_signalled_job_is_requeued_and_resumes_to_the_uninterrupted_result(tmp_path, request):
    # The uninterrupted reference runs locally meanwhile.
    reference = run_locally(tmp_path / "uninterrupted", *SHORTER)
    sweep = tmp_path / "sweep"
    launcher = subprocess.Popen(command(sweep, *RESUMABLE, *SHORTER, "logger=wandb",
                                        "logger.wandb.mode=offline"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    request.addfinalizer(launcher.kill)
    wait_for(lambda: list((sweep / "0" / "checkpoints").glob("checkpoint-*")), launcher)
    (log,) = sweep.glob(".submitit/*/*_0_log.out")  # <job id>_<task>_log.out
    job_id = log.name.removesuffix("_0_log.out")
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)  # as a preemption does
    assert launcher.wait(timeout=600) == 0, launcher.stderr.read()[-3000:]
    assert reference.wait(timeout=600) == 0, reference.stderr.read()[-2000:]

    results = json.loads((sweep / "0" / "results.json").read_text())
    assert results["resumed"] and results["resumed_from_step"] >= 5, results
    assert "SLURM requeued this job" in (sweep / "0" / "train.log").read_text()
    assert json.loads((sweep / "0" / "predictions.json").read_text()) == json.loads(
        (tmp_path / "uninterrupted" / "predictions.json").read_text())
    # one W&B run: the requeued attempt continues the run past the last step W&B holds of the
    # preempted one (SLURM's SIGTERM also stops W&B's service, which loses its unwritten rows;
    # the warning line says so, and the checkpoint's rows after that step are logged again)
    _, second = assert_one_wandb_run_across_attempts(sweep / "0", attempts=2)
    found = re.search(r"(?:Continuing W&B run \w+ from step (\d+)\.|continuing from step (\d+),)",
                      (sweep / "0" / "train.log").read_text())
    floor = int(found[1] or found[2])
    assert second["rows"][0]["_step"] > floor
    assert second["rows"][-1]["_step"] == results["train_steps"]
    assert second["summary"]["train/runtime_seconds"] == pytest.approx(results["train_runtime"])


def wait_for(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.stderr.read()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
