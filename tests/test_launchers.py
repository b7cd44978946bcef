"""Real multiruns with the search and launcher plugins, in a subprocess: the Optuna search
(hparams_search=optuna), the joblib launcher (parallel jobs on one machine) and submitit's local
launcher. Every sweep runs in a fresh working directory with the default sweep directory, so the
layout multirun/<date>/<time>/<job num>/ is checked for each of them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import FAST, compose_with_hydra
from qa_experiments.config.paths import config_dir

SWEEP_DIR = re.compile(r"\d{4}-\d{2}-\d{2}/\d{2}-\d{2}-\d{2}")


def multirun(cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "-m", *FAST, *overrides],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )


def the_sweep(cwd: Path, done: subprocess.CompletedProcess, n_jobs: int) -> Path:
    """The one sweep directory under cwd/multirun/, holding jobs 0..n_jobs-1, each finished
    with its results.json."""
    output = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, output
    sweeps = [p for p in (cwd / "multirun").glob("*/*") if p.is_dir()]
    assert len(sweeps) == 1, (sweeps, output)
    (sweep,) = sweeps
    assert SWEEP_DIR.fullmatch(sweep.relative_to(cwd / "multirun").as_posix())
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert jobs == [str(i) for i in range(n_jobs)], output
    for i in range(n_jobs):
        status = json.loads((sweep / str(i) / "status.json").read_text())
        assert status["status"] == "finished", status
        assert (sweep / str(i) / "results.json").is_file()
    return sweep


def job(sweep: Path, num: int) -> tuple[dict, dict]:
    """A job's results and resolved config."""
    read = lambda name: json.loads((sweep / str(num) / name).read_text())  # noqa: E731
    return read("results.json"), read("config.json")


@pytest.mark.slow
def test_optuna_search_records_the_best_trial(tmp_path):
    done = multirun(
        tmp_path, "hparams_search=optuna", "hydra.sweeper.n_trials=3",
        "model=choice(tiny_bert,tiny_roberta)", "optimizer.lr=tag(log,interval(1e-4,1e-2))",
        "optimizer.warmup=0",  # fixed values leave the search space
    )
    sweep = the_sweep(tmp_path, done, n_jobs=3)
    trials = []
    for num in range(3):
        results, config = job(sweep, num)
        assert config["model"]["name"] in ("tiny_bert", "tiny_roberta")
        assert 1e-4 <= config["optimizer"]["lr"] <= 1e-2
        assert config["optimizer"]["warmup"] == 0 and config["hardware"]["train_batch_size"] == 8
        trials.append((results["f1"], config["model"]["name"], config["optimizer"]["lr"]))

    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["name"] == "optuna"
    assert set(best["best_params"]) == {"model", "optimizer.lr"}
    assert best["best_value"] == pytest.approx(max(f1 for f1, _, _ in trials))
    assert any(
        f1 == pytest.approx(best["best_value"]) and model == best["best_params"]["model"]
        and lr == pytest.approx(best["best_params"]["optimizer.lr"])
        for f1, model, lr in trials
    ), (trials, best)


@pytest.mark.slow
def test_optuna_study_persists_in_sqlite_and_resumes(tmp_path):
    import optuna

    search = ["hparams_search=optuna", "hydra.sweeper.n_trials=1", "hydra.sweeper.study_name=qa",
              "hydra.sweeper.storage=sqlite:///optuna.db",  # relative to the working directory
              "model=tiny_bert", "optimizer.warmup=0"]
    first = multirun(tmp_path, *search)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    again = multirun(tmp_path, *search)  # the same study, one more trial, a new sweep dir
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]

    study = optuna.load_study(study_name="qa", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    sweeps = sorted(p for p in (tmp_path / "multirun").glob("*/*") if p.is_dir())
    assert len(sweeps) == 2
    f1s = [json.loads((sweep / "0" / "results.json").read_text())["f1"] for sweep in sweeps]
    assert [t.value for t in study.trials] == pytest.approx(f1s)
    best = yaml.safe_load((sweeps[1] / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(f1s))  # over both runs of the study


@pytest.mark.slow
def test_optuna_study_goes_on_after_a_failed_trial(tmp_path):
    # The sampler's seed is the run seed (42): trial 0 draws lr=-1.0, which the optimizer
    # refuses (the job fails), and trial 1 draws lr=1e-4.
    done = multirun(tmp_path, "hparams_search=optuna", "hydra.sweeper.n_trials=2",
                    "model=tiny_bert", "optimizer.lr=choice(1e-4,-1.0)", "optimizer.warmup=0")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    (sweep,) = (tmp_path / "multirun").glob("*/*")
    status = [json.loads((sweep / str(i) / "status.json").read_text()) for i in range(2)]
    assert [s["status"] for s in status] == ["failed", "finished"]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_params"] == {"optimizer.lr": 1e-4}
    assert best["best_value"] == pytest.approx(job(sweep, 1)[0]["f1"])


@pytest.mark.slow
def test_joblib_runs_jobs_in_parallel(tmp_path):
    done = multirun(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                    "model=tiny_bert", "optimizer.lr=1e-4,5e-4")
    sweep = the_sweep(tmp_path, done, n_jobs=2)
    assert "Joblib.Parallel(n_jobs=2" in done.stdout + done.stderr
    # Both jobs were running at once: each started (wrote its config) before the other ended.
    started = [(sweep / str(i) / ".hydra" / "config.yaml").stat().st_mtime for i in range(2)]
    ended = [(sweep / str(i) / "results.json").stat().st_mtime for i in range(2)]
    assert started[0] < ended[1] and started[1] < ended[0]
    assert {job(sweep, i)[1]["optimizer"]["lr"] for i in range(2)} == {1e-4, 5e-4}


@pytest.mark.slow
def test_submitit_local_runs_each_job_in_its_own_process(tmp_path):
    done = multirun(tmp_path, "hydra/launcher=submitit_local", "model=tiny_bert",
                    "optimizer.lr=1e-4,5e-4")
    sweep = the_sweep(tmp_path, done, n_jobs=2)
    # submitit's own logs and pickled results, one folder per job
    assert len(list(sweep.glob(".submitit/*/*_result.pkl"))) == 2
    assert {job(sweep, i)[1]["optimizer"]["lr"] for i in range(2)} == {1e-4, 5e-4}


def test_optuna_search_space_names_real_keys_and_choices():
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    cfg = compose_with_hydra("hparams_search=optuna")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler"
    assert sweeper.sampler.seed == cfg.seed and sweeper.storage is None
    assert cfg.hydra.mode.name == "MULTIRUN"
    parser = OverridesParser.create()
    for key, space in sweeper.params.items():
        override = parser.parse_override(f"{key}={space}")
        assert override.is_sweep_override(), key
        if (config_dir() / key).is_dir():  # a config group: every choice is a file of it
            for choice in override.sweep_string_iterator():
                assert (config_dir() / key / f"{choice}.yaml").is_file(), (key, choice)
        else:
            assert OmegaConf.select(cfg, key) is not None, key
    assert set(sweeper.params) == {"model", "optimizer.lr", "optimizer.warmup",
                                   "hardware.train_batch_size", "trainer.num_train_epochs"}


def test_slurm_gpu_launcher_defaults():
    launcher = compose_with_hydra("hydra/launcher=slurm_gpu").hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.nodes) == (1, 1, 1)
    assert (launcher.cpus_per_task, launcher.mem_gb, launcher.timeout_min) == (8, 64, 240)
    assert launcher.partition is None
    assert (launcher.signal_delay_s, launcher.max_num_timeout) == (120, 3)  # requeue on timeout


def test_slurm_ddp_and_cpu_presets_override_slurm_gpu():
    ddp = compose_with_hydra("hydra/launcher=slurm_ddp", "hydra.launcher.tasks_per_node=8")
    launcher = ddp.hydra.launcher
    assert (launcher.tasks_per_node, launcher.gpus_per_node) == (8, 8)  # one GPU per rank
    assert launcher.timeout_min == 240 and launcher.max_num_timeout == 3
    cpu = compose_with_hydra("hydra/launcher=slurm_cpu").hydra.launcher
    assert (cpu.gpus_per_node, cpu.cpus_per_task, cpu.tasks_per_node) == (0, 1, 1)
