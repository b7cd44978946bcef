"""`logger=mlflow` against a real tracking server (`mlflow server`, SQLite, 127.0.0.1), read
back through MLflow's own client: one run per job under the sweep's parent run, the final
figures of results.json, the run's files as artifacts, a status true to what happened, one run
across a kill and `resume=true`, and a server that is down or goes away."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from helpers import (
    compose_config,
    find_key,
    kill_and_resume,
    scalar_steps,
    tensorboard_events,
    wandb_history,
    wandb_state,
)
from qa_experiments.lifecycle.job import train
from qa_experiments.tracking.mlflow_run import PARENT_TAG, SWEEP_DIR_TAG, SWEEP_TAG
from qa_experiments.tracking.tracker import summary_metrics

TINY = ["debug=default", "logger=mlflow"]  # 3 steps of a tiny BERT (conf/debug/default.yaml)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    """`mlflow server` on a free port with its store in `root`, once it answers /health."""
    port = free_port()
    log = root / "server.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
         f"sqlite:///{root}/mlflow.db", "--default-artifact-root", str(root / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=log.open("w"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.read() == b"OK":
                    return server, url
        except OSError:
            assert server.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker
    server.wait(timeout=60)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    server, url = start_server(tmp_path_factory.mktemp("mlflow"))
    yield url
    stop_server(server)


@pytest.fixture
def experiment(monkeypatch, request) -> str:
    """A fresh experiment name for the test (through MLflow's own variable); the request
    settings a job sets for itself are restored afterwards."""
    name = f"test-{request.node.name}"
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", name)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # a gone server fails at once
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return name


def job_run(client: MlflowClient, run_dir: Path):
    """The MLflow run the job in `run_dir` recorded in its mlflow_run.json."""
    return client.get_run(json.loads((run_dir / "mlflow_run.json").read_text())["id"])


def steps(client: MlflowClient, run, key: str) -> list[int]:
    return [metric.step for metric in client.get_metric_history(run.info.run_id, key)]


def artifacts(client: MlflowClient, run, folder: str | None = None) -> set[str]:
    return {item.path for item in client.list_artifacts(run.info.run_id, folder)}


@pytest.mark.slow
def test_a_sweep_is_one_parent_run_with_a_finished_run_per_job(mlflow_server, experiment,
                                                               tmp_path):
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "-m", *TINY,
         f"logger.mlflow.tracking_uri={mlflow_server}", "optimizer.lr=1e-4,2e-4",
         f"hydra.sweep.dir={sweep}"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(mlflow_server)
    (exp,) = [client.get_experiment_by_name(experiment)]
    everything = client.search_runs([exp.experiment_id])
    (parent,) = [run for run in everything if SWEEP_TAG in run.data.tags]
    assert parent.data.tags[SWEEP_DIR_TAG] == str(sweep)
    jobs = [sweep / "0", sweep / "1"]
    runs = [job_run(client, job) for job in jobs]
    assert {run.info.run_id for run in everything} == {parent.info.run_id} | {
        run.info.run_id for run in runs}  # one run per job, nothing else
    for job, run in zip(jobs, runs, strict=True):
        assert run.data.tags[PARENT_TAG] == parent.info.run_id
        assert run.info.status == "FINISHED"
        results = json.loads((job / "results.json").read_text())
        final = summary_metrics(results)
        assert {key: run.data.metrics[key] for key in final} == pytest.approx(final)
        assert run.data.metrics["eval/f1"] == pytest.approx(results["f1"])
        config = json.loads((job / "config.json").read_text())
        assert run.data.params["optimizer.lr"] == str(config["optimizer"]["lr"])
        assert run.data.params["model.name"] == "tiny_bert"
        assert steps(client, run, "train/loss") == [1, 2, 3]  # each step once
        assert {"config.json", "results", "model", "report"} <= artifacts(client, run)
        assert "report/report.md" in artifacts(client, run, "report")
        assert artifacts(client, run, "model") == {"model/README.md"}
    assert {run.data.params["optimizer.lr"] for run in runs} == {"0.0001", "0.0002"}


@pytest.mark.parametrize(("stop", "status"), [(RuntimeError("boom"), "FAILED"),
                                              (SystemExit(1), "KILLED")])
@pytest.mark.slow
def test_a_job_that_fails_or_is_stopped_is_marked_so(mlflow_server, experiment, tmp_path,
                                                     monkeypatch, stop, status):
    def evaluation_stops(*args, **kwargs):
        raise stop

    monkeypatch.setattr("qa_experiments.training.experiment.evaluate_features",
                        evaluation_stops)
    run_dir = tmp_path / "run"
    cfg = compose_config([*TINY, f"logger.mlflow.tracking_uri={mlflow_server}"], run_dir)
    with pytest.raises(type(stop)):
        train(cfg)
    run = job_run(MlflowClient(mlflow_server), run_dir)
    assert run.info.status == status
    assert steps(MlflowClient(mlflow_server), run, "train/loss") == [1, 2, 3]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_a_server_down_at_start_is_one_line_and_exit_2_before_training(tmp_path):
    run_dir = tmp_path / "run"
    # without WANDB_MODE=offline (conftest), which transformers' integrations print at import
    env = {key: value for key, value in os.environ.items() if key != "WANDB_MODE"}
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *TINY,
         f"logger.mlflow.tracking_uri=http://127.0.0.1:{free_port()}",
         f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = [line for line in done.stderr.splitlines() if "error:" in line]
    assert line.startswith("qa-train: error: MLflow tracking server http://127.0.0.1:")
    assert "logger=none" in line
    assert not (run_dir / "checkpoints").exists()  # nothing trained
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_a_server_that_goes_away_during_training_loses_no_result(tmp_path, experiment,
                                                                 monkeypatch, caplog):
    server, url = start_server(tmp_path)
    from qa_experiments.training import experiment as training

    load_model = training.load_model

    def server_goes_away(*args, **kwargs):  # after the run started, before training
        stop_server(server)
        return load_model(*args, **kwargs)

    monkeypatch.setattr(training, "load_model", server_goes_away)
    run_dir = tmp_path / "run"
    with caplog.at_level("WARNING"):
        train(compose_config([*TINY, f"logger.mlflow.tracking_uri={url}"], run_dir))
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    assert (run_dir / "results.json").exists()
    (warning,) = [r.getMessage() for r in caplog.records if r.name.endswith("tracker")]
    assert warning.startswith("MLflow failed while logging")
    assert "run directory keeps the results" in warning


@pytest.mark.slow
def test_a_killed_and_resumed_job_is_one_run_with_each_step_once(mlflow_server, experiment,
                                                                 tmp_path):
    kill_and_resume(tmp_path, "logger=mlflow", f"logger.mlflow.tracking_uri={mlflow_server}")
    client = MlflowClient(mlflow_server)
    killed, uninterrupted = (job_run(client, tmp_path / d) for d in ("killed", "uninterrupted"))
    exp = client.get_experiment_by_name(experiment)
    assert len(client.search_runs([exp.experiment_id])) == 2  # the resume made no new run
    assert killed.info.status == "FINISHED"
    assert "Continuing MLflow run " + killed.info.run_id in (
        tmp_path / "killed" / "train.log").read_text()
    expected = steps(client, uninterrupted, "train/loss")
    assert steps(client, killed, "train/loss") == expected  # every step once, in order
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert killed.data.metrics["eval/f1"] == pytest.approx(results["f1"])


@pytest.mark.slow
def test_several_trackers_at_once_get_the_same_figures(mlflow_server, experiment, tmp_path):
    run_dir = tmp_path / "run"
    train(compose_config(["debug=default", "logger=[wandb,mlflow,tensorboard]",
                          "logger.wandb.mode=offline",
                          f"logger.mlflow.tracking_uri={mlflow_server}"], run_dir))
    results = json.loads((run_dir / "results.json").read_text())
    client = MlflowClient(mlflow_server)
    run = job_run(client, run_dir)
    board = tensorboard_events(run_dir)
    losses = [m.value for m in client.get_metric_history(run.info.run_id, "train/loss")]
    assert wandb_history(run_dir, "train/loss") == losses
    assert [event.value for event in board.Scalars("train/loss")] == pytest.approx(losses)
    assert steps(client, run, "train/loss") == scalar_steps(board, "train/loss") == [1, 2, 3]
    for f1 in (run.data.metrics["eval/f1"], board.Scalars("eval/f1")[-1].value,
               find_key(wandb_state(run_dir), "eval/f1")):
        assert f1 == pytest.approx(results["f1"])
