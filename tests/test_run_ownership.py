"""A run directory belongs to one live process, a directory that is not a run is never
emptied, and no command writes among a run's own files. Real processes throughout."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import FAST, snapshot
from qa_experiments.config.paths import BUNDLED_DATA_DIR

TINY = FAST + ["model=tiny_bert"]


def train_process(run_dir, *overrides) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qa_experiments.train", *TINY, *overrides,
         f"hydra.run.dir={run_dir}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cli(module, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}  # Transformers' banner
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, timeout=300, env=env)


def one_error_line(done, prog: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), done.stderr
    assert "error" not in done.stdout
    return lines[0]


@pytest.mark.slow
def test_a_second_process_is_refused_while_the_first_owns_the_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    first = train_process(run_dir, "data.max_train_samples=200")  # a few seconds of training
    deadline = time.monotonic() + 120
    while not (run_dir / "status.json").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    # Paused (still alive, still the owner) while the others try, so that a fast machine
    # cannot finish the first run before they start.
    first.send_signal(signal.SIGSTOP)
    try:
        for overrides in ([], ["optimizer.lr=1e-3"]):  # the same command, and another one
            second = train_process(run_dir, "data.max_train_samples=200", *overrides)
            out, err = second.communicate(timeout=120)
            assert second.returncode == 2, out + err
            (line,) = [line for line in err.splitlines() if line.strip()]
            assert line.startswith("qa-train: error: ")
            assert "in use by another running job" in line, line
            assert first.poll() is None, "the refusal must come while the first still trains"
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    status = json.loads((run_dir / "status.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert status["status"] == "finished" and "optimizer.lr=1e-3" not in status["overrides"]
    assert config["optimizer"]["lr"] == 5e-5 and (run_dir / "results.json").is_file()
    # Once the owner has ended (however it ended), the directory is free again: a re-run
    # of the same command reuses the finished run.
    again = train_process(run_dir, "data.max_train_samples=200")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and "reusing its results" in out, err


@pytest.mark.slow  # about 90 s on 2 busy cores: four commands and a training start
def test_a_run_still_training_is_named_as_such_and_a_killed_one_is_unfinished(tmp_path):
    """While qa-train writes a run (a live owner, paused here so that it cannot finish first),
    qa-predict and qa-evaluate say so in one line, naming its pid; once it is killed, the same
    commands say the run has not finished."""
    run_dir = tmp_path / "run"
    first = train_process(run_dir, "data.max_train_samples=200")
    deadline = time.monotonic() + 120
    while not (run_dir / "status.json").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGSTOP)
    data = str(BUNDLED_DATA_DIR / "dev-v1.1.json.gz")
    commands = [("qa_experiments.predict", "qa-predict", [str(run_dir), "-q", "Who?", "-c",
                                                          "Ada wrote it."]),
                ("qa_experiments.evaluate", "qa-evaluate",
                 [str(run_dir), "--data", data, "--out", str(tmp_path / "eval.json")])]
    try:
        for module, prog, args in commands:
            line = one_error_line(cli(module, *args), prog)
            assert f"still being trained by a running job (pid {first.pid})" in line, line
            assert "again" not in line and first.poll() is None
    finally:
        first.kill()  # a stopped process is killed too
        first.communicate(timeout=60)
    assert json.loads((run_dir / "status.json").read_text())["status"] == "running"
    for module, prog, args in commands:
        line = one_error_line(cli(module, *args), prog)
        assert "has not finished (status.json: running)" in line, line
        assert "still being trained" not in line


@pytest.mark.parametrize("content", ["user_files", "unreadable_status"])
def test_a_directory_that_is_not_a_run_is_refused_and_left_untouched(tmp_path, content):
    folder = tmp_path / "mine"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights.bin").write_bytes(b"my own model")
    (folder / "results.json").write_text('{"mine": true}')
    (folder / "report").mkdir()
    (folder / "notes.txt").write_text("keep me")
    if content == "unreadable_status":
        (folder / "status.json").write_text("not json")
    before = snapshot(folder)
    done = train_process(folder)
    out, err = done.communicate(timeout=300)
    line = one_error_line(subprocess.CompletedProcess([], done.returncode, out, err), "qa-train")
    assert "holds no run of qa-experiments" in line and "notes.txt" in line
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    "module,prog,make_args,where",
    [
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda run, data: [str(run), "--data", data, "--out", str(run / "model" / "config.json")],
         "inside model/"),
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda run, data: [str(run), "--data", data, "--out",
                            str(run / "checkpoints" / "checkpoint-1" / "x.json")],
         "inside checkpoints/"),
        ("qa_experiments.predict", "qa-predict",
         lambda run, data: [str(run), "--data", data, "--out", str(run / "report" / "report.md")],
         "inside report/"),
        ("qa_experiments.predict", "qa-predict",
         lambda run, data: [str(run), "--data", data, "--out", str(run / "results.json")],
         "would replace the results.json"),
        ("qa_experiments.report", "qa-report",
         lambda run, data: [str(run), "--out", str(run / "model")], "would replace the model"),
        ("qa_experiments.compare", "qa-compare",
         lambda run, data: [str(run.parent), "--out", str(run / ".hydra")], "inside .hydra/"),
        ("qa_experiments.report", "qa-report", lambda run, data: [str(run), "--out", str(run)],
         "is a training run"),
        ("qa_experiments.compare", "qa-compare",
         lambda run, data: [str(run.parent), "--out", str(run)], "is a training run"),
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda run, data: [str(run), "--data", data, "--out",
                            str(Path(data).parent / "link" / "x.json")], "inside model/"),
    ],
    ids=["evaluate-model-config", "evaluate-checkpoints", "predict-report", "predict-results",
         "report-model", "compare-hydra", "report-run-root", "compare-run-root",
         "evaluate-through-a-symlink"],
)
def test_no_command_writes_among_a_runs_own_files(tiny_run, tmp_path, module, prog,
                                                   make_args, where):
    data = str(tmp_path / "data.json")
    (tmp_path / "data.json").write_text(json.dumps({"data": []}))
    (tmp_path / "link").symlink_to(tiny_run / "model")  # a path into model/ by another name
    before = snapshot(tiny_run)
    line = one_error_line(cli(module, *make_args(tiny_run, data)), prog)
    assert where in line, line
    assert snapshot(tiny_run) == before


def test_default_outputs_for_a_model_inside_a_run_go_beside_the_run(tiny_run):
    eval_file = json.loads((tiny_run / "config.json").read_text())["data"]["eval_file"]
    model_files = snapshot(tiny_run / "model")
    done = cli("qa_experiments.evaluate", str(tiny_run / "model"), "--data", eval_file,
               "--max-samples", "3")
    assert done.returncode == 0, done.stderr
    assert (tiny_run / "eval_dev-v1.1.json").is_file()
    assert snapshot(tiny_run / "model") == model_files


@pytest.mark.slow
def test_a_finished_run_is_not_reused_after_its_data_changed(tmp_path):
    """The run records each data file's SHA-256; a re-run of the same command on changed data
    is refused instead of reporting the old results for it."""
    data = json.loads(gzip.open(BUNDLED_DATA_DIR / "train-v1.1-subset.json.gz", "rt").read())
    train_file = tmp_path / "train.json"
    train_file.write_text(json.dumps(data))
    overrides = ["data=local", f"data.train_file={train_file}", f"data.eval_file={train_file}"]
    run_dir = tmp_path / "run"
    first = train_process(run_dir, *overrides)
    assert first.wait(timeout=300) == 0, first.communicate()[1][-2000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert len(results["data_report"]["train"]["sha256"]) == 64

    data["data"][0]["title"] = "Edited"
    train_file.write_text(json.dumps(data))
    before = snapshot(run_dir)
    again = train_process(run_dir, *overrides)
    out, err = again.communicate(timeout=300)
    line = one_error_line(subprocess.CompletedProcess([], again.returncode, out, err),
                          "qa-train")
    assert "its train data" in line and "has changed since" in line
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_relative_data_paths_resolve_where_the_command_started_also_with_chdir(tmp_path):
    data = json.loads(gzip.open(BUNDLED_DATA_DIR / "train-v1.1-subset.json.gz", "rt").read())
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.json").write_text(json.dumps(data))
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *TINY, "data=local",
         "data.train_file=data/train.json", "data.eval_file=data/train.json",
         "hydra.job.chdir=true", "hydra.run.dir=run"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["train_file"] == str(tmp_path / "data" / "train.json")


@pytest.mark.parametrize("change", [{"hidden_size": 64, "intermediate_size": 128},
                                    {"num_hidden_layers": 3}])
def test_a_model_whose_config_does_not_match_its_weights_is_refused(tiny_run, tmp_path, change):
    """Other sizes, or more layers than the weights hold: never an answer from random
    weights, never a traceback."""
    model = tmp_path / "model"
    shutil.copytree(tiny_run / "model", model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, **change}))
    line = one_error_line(cli("qa_experiments.predict", str(model), "-q", "Who?", "-c",
                              "Ada wrote it."), "qa-predict")
    assert "Cannot load the model" in line and "Traceback" not in line, line


def test_trust_remote_code_in_a_runs_config_json_is_never_followed(tiny_run):
    """config.json is a file read back (untrusted): trust_remote_code set there must not make
    loading the model run Python code from the model directory."""
    from qa_experiments.inference.predictor import _model_config

    trained = {**json.loads((tiny_run / "config.json").read_text())["model"],
               "trust_remote_code": True}
    assert _model_config(tiny_run / "model", trained).trust_remote_code is False


HOLD = """
import sys
from pathlib import Path
from qa_experiments.runs.claim import owned
with owned(Path(sys.argv[1])), owned(Path(sys.argv[2])):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.mark.parametrize(
    "module,prog,make_args,expected",
    [
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda run, new, data: [str(run), "--data", data, "--max-samples", "2"],
         "'{run}/eval_dev-v1.1.json' lies in '{run}', a directory that a running job holds"),
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda run, new, data: [str(run), "--data", data, "--out", str(run / "mine.json")],
         "'{run}/mine.json' lies in '{run}'"),
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda run, new, data: [str(run), "--data", data, "--out", str(new / "a" / "x.json")],
         "'{new}/a/x.json' lies in '{new}'"),
        ("qa_experiments.predict", "qa-predict",
         lambda run, new, data: [str(run), "--data", data],
         "'{run}/predictions_dev-v1.1.json' lies in '{run}'"),
        ("qa_experiments.report", "qa-report", lambda run, new, data: [str(run)],
         "the report '{run}/report' lies in '{run}'"),
        ("qa_experiments.report", "qa-report",
         lambda run, new, data: [str(run), "--out", str(run / "report_mine")],
         "'{run}/report_mine' lies in '{run}'"),
        ("qa_experiments.compare", "qa-compare",
         lambda run, new, data: [str(run.parent), "--out", str(new)],
         "--out '{new}' is a directory that a running job holds"),
        ("qa_experiments.export", "qa-export",
         lambda run, new, data: [str(run), "--out", str(new / "onnx")], "lies in '{new}'"),
        ("qa_experiments.wandb_sweep", "qa-wandb-sweep",
         lambda run, new, data: ["--output", str(new / "sweep.yaml")], "lies in '{new}'"),
    ],
    ids=["evaluate-default-out", "evaluate-new-file-in-run", "evaluate-under-new-run-dir",
         "predict-default-out", "report-default-out", "report-out-in-run", "compare-out",
         "export-out", "wandb-sweep-output"],
)
def test_no_command_writes_into_a_directory_a_running_job_holds(tiny_run, tmp_path, module,
                                                                 prog, make_args, expected):
    """A second, real process holds a finished run and a new run directory (with qa-train's
    own lock, runs.claim.owned, as a job does while it runs): every command that would write
    into or under either is refused in one line, before loading anything, and writes nothing;
    once the holder ends, nothing is left held."""
    new = tmp_path / "claimed"  # a job has just claimed it: no status.json yet
    new.mkdir()
    data = str(BUNDLED_DATA_DIR / "dev-v1.1.json.gz")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tiny_run), str(new)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(tiny_run)
        done = cli(module, *make_args(tiny_run, new, data))
        line = one_error_line(done, prog)
        assert expected.format(run=tiny_run, new=new) in line, line
        assert "Loading weights" not in done.stderr
        assert snapshot(tiny_run) == before and list(new.iterdir()) == []
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0


def test_a_command_writes_again_once_the_job_holding_the_directory_has_ended(tiny_run,
                                                                             tmp_path):
    new = tmp_path / "claimed"
    new.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tiny_run), str(new)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()  # however the job ends, the OS drops its lock
    holder.wait(timeout=60)
    out = new / "eval.json"
    done = cli("qa_experiments.evaluate", str(tiny_run), "--data",
               str(BUNDLED_DATA_DIR / "dev-v1.1.json.gz"), "--max-samples", "2", "--out",
               str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["eval_examples"] == 2


def test_a_job_cannot_claim_a_directory_while_a_command_writes_its_output_there(tmp_path):
    """The check at write time (cli.arguments.writing) takes the same lock, shared: a job
    started meanwhile is refused like a second job, and the write is refused while a job that
    started during the command's work holds the directory."""
    from qa_experiments.cli.arguments import writing
    from qa_experiments.runs.claim import RunDirError

    run = tmp_path / "run"
    run.mkdir()
    claim_it = ("import sys; from pathlib import Path; from qa_experiments.runs.claim import "
                "owned\nwith owned(Path(sys.argv[1])): pass")
    with writing(run / "eval.json"):
        done = subprocess.run([sys.executable, "-c", claim_it, str(run)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode != 0 and "is in use by another running job" in done.stderr
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run), str(tmp_path / "x")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match="a directory that a running job holds"):
            with writing(run / "eval.json"):
                pytest.fail("the block must not run")
    finally:
        holder.communicate("", timeout=60)
    done = subprocess.run([sys.executable, "-c", claim_it, str(run)], timeout=120)
    assert done.returncode == 0  # nothing left held by the command
