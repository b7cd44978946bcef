"""Sweeps on a Ray cluster through Hydra's Ray launcher (`hydra/launcher=ray_cluster`).

The slow test starts a real one-node Ray cluster (`ray start --head` on 127.0.0.1, with its own
temporary directory and ports, in a directory and environment of its own) and runs a sweep on
it with `qa-train -m` from another directory: each job in its own run directory of the sweep,
a failing job recorded as failed while the others finish, qa-compare reading the sweep, the
jobs' output in the cluster's worker logs, and qa-train's variables reaching the jobs. The
cluster is stopped by ending the `ray start --block` process that runs it (which ends the
daemons it started), not by `ray stop`, which would end every Ray on the machine.
The fast tests check the preset and the two pieces of qa_experiments/hydra_runtime/ray_jobs.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from helpers import FAST, compose_with_hydra
from qa_experiments.analysis.comparison import collect_jobs
from qa_experiments.cli.hydra_errors import NO_RAY_CLUSTER, run_reporting_errors
from qa_experiments.compare import main as compare_main
from qa_experiments.hydra_runtime import ray_jobs

RAY = Path(sys.executable).with_name("ray")  # the CLI of the Ray installed with the `ray` extra
LAUNCHER = "hydra.launcher.ray"


# ---- the preset and its helpers (no cluster) ----------------------------------------------


def forget_forwarded_variables(monkeypatch) -> None:
    """Unset, for this test, every variable that the preset passes on to the jobs."""
    for name in list(os.environ):
        if name.startswith(("HF_", "HUGGING_FACE_", "TRANSFORMERS_", "WANDB_", "QA_EXPERIMENTS_",
                            "TOKENIZERS_PARALLELISM")):
            monkeypatch.delenv(name)


def test_ray_cluster_preset_joins_a_running_cluster(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    forget_forwarded_variables(monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HF_TOKEN", "secret")
    monkeypatch.setenv("WANDB_API_KEY", "secret")
    monkeypatch.setenv("WANDB_SERVICE", "3-1-unix-/elsewhere.sock")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")

    launcher = compose_with_hydra("hydra/launcher=ray_cluster").hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    ray = OmegaConf.to_container(launcher.ray, resolve=True)
    init = ray["init"]
    # "auto": RAY_ADDRESS or a cluster started here, never a Ray of its own; no object store
    # size, which ray.init refuses when it joins a cluster.
    assert init["address"] == "auto" and init["object_store_memory"] is None
    assert init["runtime_env"]["env_vars"] == {
        "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", ray_jobs.LAUNCH_DIR: str(tmp_path)}
    assert init["runtime_env"]["worker_process_setup_hook"] == (
        "qa_experiments.hydra_runtime.ray_jobs.enter_launch_dir")
    assert ray["remote"] == {"num_cpus": 1, "num_gpus": 0}

    gpu = compose_with_hydra("hydra/launcher=ray_cluster", f"{LAUNCHER}.remote.num_gpus=1",
                             f"{LAUNCHER}.init.address=10.0.0.5:6379").hydra.launcher.ray
    assert (gpu.remote.num_gpus, gpu.init.address) == (1, "10.0.0.5:6379")


def test_ray_job_env_keeps_matching_names_except_those_left_out(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    forget_forwarded_variables(monkeypatch)
    for name, value in {"HF_HOME": "/h", "HF_TOKEN": "t", "WANDB_DIR": "/w", "XHF_A": "x"}.items():
        monkeypatch.setenv(name, value)
    assert ray_jobs.ray_job_env(["HF_*", "WANDB_*"], ["*_TOKEN"]) == {
        "HF_HOME": "/h", "WANDB_DIR": "/w", ray_jobs.LAUNCH_DIR: str(tmp_path)}
    assert ray_jobs.ray_job_env([]) == {ray_jobs.LAUNCH_DIR: str(tmp_path)}


def test_enter_launch_dir_moves_the_worker_or_says_why_not(monkeypatch, tmp_path, caplog):
    monkeypatch.chdir(tmp_path)
    launch = tmp_path / "launch"
    launch.mkdir()
    monkeypatch.setenv(ray_jobs.LAUNCH_DIR, str(launch))
    ray_jobs.enter_launch_dir()
    assert Path.cwd() == launch

    monkeypatch.setenv(ray_jobs.LAUNCH_DIR, str(tmp_path / "not-on-this-node"))
    with caplog.at_level(logging.WARNING, logger=ray_jobs.__name__):
        ray_jobs.enter_launch_dir()
    assert Path.cwd() == launch
    assert "not-on-this-node" in caplog.text

    monkeypatch.delenv(ray_jobs.LAUNCH_DIR)
    ray_jobs.enter_launch_dir()
    assert Path.cwd() == launch


def test_no_ray_cluster_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    # The error ray.init(address="auto") raises when it finds no cluster, from the installed
    # Ray (with the pgrep for running GCS servers answered "none").
    from ray._private import services

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(services, "find_gcs_addresses", lambda: [])
    with pytest.raises(ConnectionError) as raised:
        services.get_ray_address_from_environment("auto", str(tmp_path))

    def hydra_main():
        raise raised.value

    with pytest.raises(SystemExit) as exited:
        run_reporting_errors("qa-train", hydra_main)
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"qa-train: error: {NO_RAY_CLUSTER}\n"


# ---- a real one-node cluster --------------------------------------------------------------


@dataclass
class Cluster:
    address: str   # 127.0.0.1:<port>: what RAY_ADDRESS names
    temp_dir: Path  # its sessions, with the logs of every worker
    home: Path      # where `ray start` ran: the directory its workers start in
    cache: Path     # QA_EXPERIMENTS_CACHE of the cluster's own environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """A one-node Ray cluster (2 CPUs) for this module, stopped after it."""
    home = tmp_path_factory.mktemp("ray-node")
    # Short: Ray's socket paths under it must stay within the 107 bytes a Unix socket allows.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-"))
    # The node's environment is not qa-train's: none of the variables the jobs take from it.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("HF_", "WANDB_", "QA_EXPERIMENTS_", "RAY_"))}
    env["QA_EXPERIMENTS_CACHE"] = str(home / "cache")
    port = free_port()
    log = home / "ray-start.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
             f"--port={port}", "--num-cpus=2", "--disable-usage-stats",
             "--include-dashboard=false", f"--temp-dir={temp_dir}",
             # ports Ray would otherwise take at fixed numbers (8265, 10001, 52365)
             f"--dashboard-port={free_port()}", f"--ray-client-server-port={free_port()}",
             f"--dashboard-agent-listen-port={free_port()}"],
            cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield Cluster(f"127.0.0.1:{port}", temp_dir, home, home / "cache")
    finally:
        process.send_signal(signal.SIGTERM)  # `ray start --block` ends what it started
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
            process.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


def sweep_on(cluster: Cluster, cwd: Path, *overrides: str, address_in_env: bool = True):
    """`qa-train -m hydra/launcher=ray_cluster` from `cwd`, with its own tiny-model cache."""
    env = {**os.environ, "QA_EXPERIMENTS_CACHE": str(cwd / "cache")}
    env.pop("RAY_ADDRESS", None)
    if address_in_env:
        env["RAY_ADDRESS"] = cluster.address
    else:
        overrides += (f"{LAUNCHER}.init.address={cluster.address}",)
    return subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "-m", "hydra/launcher=ray_cluster",
         *FAST, *overrides],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def status(job_dir: Path) -> dict:
    return json.loads((job_dir / "status.json").read_text())


def worker_output(cluster: Cluster) -> str:
    """What the cluster's workers printed: Ray keeps it in its own temporary directory."""
    return "".join(p.read_text(errors="replace")
                   for p in cluster.temp_dir.glob("session_latest/logs/worker-*.out"))


@pytest.mark.slow
def test_sweep_runs_its_jobs_on_the_ray_cluster(cluster, tmp_path, capsys):
    launch = tmp_path / "launch"
    launch.mkdir()
    # A negative learning rate is refused inside its Ray job: job 1 fails, jobs 0 and 2 finish.
    jobs = ["model=tiny_bert", "optimizer.lr=1e-4,-1.0,5e-4", "logger=wandb",
            "logger.wandb.mode=offline"]
    done = sweep_on(cluster, launch, *jobs)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Connecting to existing Ray cluster at address: " in output

    # The default sweep directory, relative to where qa-train ran (not where the workers began).
    (sweep,) = (p for p in (launch / "multirun").glob("*/*") if p.is_dir())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/\d{2}-\d{2}-\d{2}",
                        sweep.relative_to(launch / "multirun").as_posix())
    assert not (cluster.home / "multirun").exists()
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2"]
    assert [status(sweep / str(i))["status"] for i in range(3)] == [
        "finished", "failed", "finished"]
    assert "optimizer.lr=-1.0 is out of range" in status(sweep / "1")["error"]
    for i in (0, 2):
        results = json.loads((sweep / str(i) / "results.json").read_text())
        assert 0 <= results["f1"] <= 100
        assert len(list((sweep / str(i) / "wandb").glob("offline-run-*"))) == 1
        assert (sweep / str(i) / "train.log").is_file()
    assert {json.loads((sweep / str(i) / "config.json").read_text())["optimizer"]["lr"]
            for i in (0, 2)} == {1e-4, 5e-4}
    summary = f"Sweep {sweep.relative_to(launch)}: 3 jobs: "
    (line,) = (line for line in done.stdout.splitlines() if line.startswith(summary))
    assert "2 finished" in line and "1 failed" in line and "best F1" in line

    # The jobs ran in the cluster's workers: their output is in the cluster's worker logs.
    logged = worker_output(cluster)
    for i in (0, 2):
        assert f"{sweep.resolve() / str(i)}\n" in logged  # the run summary names its directory
    assert "Job failed: ConfigError: optimizer.lr=-1.0 is out of range" in logged
    # qa-train's QA_EXPERIMENTS_CACHE reached the jobs (they cached their windows there), the
    # cluster's own one was never used.
    assert list((launch / "cache" / "features").iterdir())
    assert not cluster.cache.exists()

    assert compare_main([str(sweep)]) == 0
    table = capsys.readouterr().out
    assert "3 jobs: 2 finished, 1 failed" in table

    # Again into the same sweep directory, the cluster named on the command line this time:
    # the finished jobs are reused untouched, the failed one runs (and fails) again.
    finished = {p: p.read_bytes() for i in (0, 2) for p in (sweep / str(i)).rglob("*")
                if p.is_file()}
    again = sweep_on(cluster, launch, *jobs, f"hydra.sweep.dir={sweep}", address_in_env=False)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert {p: p.read_bytes() for i in (0, 2) for p in (sweep / str(i)).rglob("*")
            if p.is_file()} == finished
    assert worker_output(cluster).count("Job already finished in") == 2
    rows = {row.job: row for row in collect_jobs([sweep])}
    assert [rows[str(i)].status for i in range(3)] == ["finished", "failed", "finished"]
