"""The Optuna sweeper shipped in hydra_plugins/qa_experiments_optuna: its search-space syntax,
real searches with tiny models (journal and SQLite storage, resume, failed and pruned trials,
trials run by joblib in other processes) and the install of the `sweep` extra."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from packaging.requirements import Requirement

from helpers import (
    FAST,
    TINY_SEARCH,
    compose_with_hydra,
    search,
    trials_table,
    wandb_history,
    wandb_state,
)
from qa_experiments.analysis.comparison import collect_jobs
from qa_experiments.search.optuna_storage import open_storage
from qa_experiments.search.study_report import (
    PLOTS,
    plot_missing,
    write_search_results,
)

ROOT = Path(__file__).resolve().parents[1]
@pytest.mark.slow
def test_journal_search_prunes_fails_and_resumes(tmp_path):
    # ThresholdPruner(upper=-1) prunes any trial that reports at step 3 of its 4 steps:
    # reporting every step, a trial is pruned; every 2 steps, it finishes (step 4 is its last,
    # never pruned on); every 0 steps is refused (a failed trial). The random sampler's seed
    # (42) draws each within 5 trials.
    space = ["hydra.sweeper.storage=journal:study.journal", "hydra.sweeper.study_name=qa",
             "hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.upper=-1",
             "hydra.sweeper.pruner.n_warmup_steps=3", "trainer.max_steps=4",
             "pruning.report_every=choice(1,2,0)", "optimizer.lr=1e-3",
             "hydra/sweeper/sampler=random"]
    sweep = search(tmp_path, "hydra.sweeper.n_trials=5", *space)
    rows = trials_table(sweep)
    states = {row["trial"]: row["state"] for row in rows}
    assert set(states.values()) == {"complete", "pruned", "fail"}, rows
    jobs = {row.job: row for row in collect_jobs([sweep])}
    for row in rows:
        status = {"complete": "finished", "pruned": "pruned", "fail": "failed"}[row["state"]]
        assert jobs[row["trial"]].status == status  # first search: job number = trial number
        if row["state"] == "pruned":
            assert row["pruning.report_every"] == "1" and row["last_step"] == "3"
            scores = json.loads((sweep / row["trial"] / "intermediate.json").read_text())
            assert [s["step"] for s in scores] == [1, 2, 3]
            assert not (sweep / row["trial"] / "results.json").exists()

    # The sixth trial draws report_every=0 (refused): its search's only job failed, exit 1.
    resumed = search(tmp_path, "hydra.sweeper.n_trials=1", *space, status=1)
    study = optuna.load_study(study_name="qa", storage=open_storage(
        f"journal:{tmp_path / 'study.journal'}"))
    assert len(study.trials) == 6 and len(trials_table(resumed)) == 6
    run_dirs = [row["run_dir"] for row in trials_table(resumed)]  # job numbers restart at 0
    assert run_dirs == [str(sweep / str(i)) for i in range(5)] + [str(resumed / "0")]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and all(sorted(t.intermediate_values) == [1, 2, 3] for t in pruned)


@pytest.mark.slow
def test_joblib_trials_report_to_the_sweepers_sqlite_study(tmp_path):
    # Two trials at once in joblib's worker processes; the median pruner (5 startup trials)
    # prunes nothing, but every trial reports its F1 at steps 1 and 2 through SQLite.
    sweep = search(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                   "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=2",
                   "hydra.sweeper.storage=sqlite:///optuna.db", "hydra.sweeper.study_name=qa",
                   "hydra/sweeper/pruner=median", "trainer.max_steps=2",
                   "optimizer.lr=interval(1e-4,1e-3)")
    rows = trials_table(sweep)  # written from the sweeper's own study object
    assert [(row["state"], row["last_step"]) for row in rows] == [("complete", "2")] * 2
    for i in range(2):
        scores = json.loads((sweep / str(i) / "intermediate.json").read_text())
        assert [s["step"] for s in scores] == [1, 2]
    study = optuna.load_study(study_name="qa", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study.trials)
    for plot in PLOTS:
        assert (sweep / plot).read_bytes().startswith(b"\x89PNG"), plot


def test_a_job_finds_its_trial_by_number_in_a_storage_shared_by_studies(tmp_path, monkeypatch):
    # Trial ids run across all studies of a storage; the sweeper hands the job its trial's
    # number, which the job maps to the id through Optuna's public storage API.
    from qa_experiments.search.trial_protocol import PRUNER_ATTR, trial_environment, trial_location
    from qa_experiments.training.trial_reporting import open_trial

    for spec in (f"sqlite:///{tmp_path / 'optuna.db'}", f"journal:{tmp_path / 'optuna.journal'}"):
        other = optuna.create_study(study_name="other", storage=open_storage(spec))
        other.ask(), other.ask()
        study = optuna.create_study(study_name="qa", storage=open_storage(spec))
        study.set_user_attr(PRUNER_ATTR, {"name": "none", "arguments": {}})
        study.ask()
        second = study.ask()
        for name, value in trial_environment("qa", spec, second.number).items():
            monkeypatch.setenv(name, value)
        opened = open_trial(*trial_location())
        opened.report(42.0, 7)
        stored = optuna.load_study(study_name="qa", storage=open_storage(spec)).trials
        assert opened.number == 1
        assert [t.intermediate_values for t in stored] == [{}, {7: 42.0}], spec
        assert all(t.intermediate_values == {} for t in other.trials)


def test_plots_wait_for_what_they_show(tmp_path):
    study = optuna.create_study()
    assert plot_missing(study, "optimization_history.png") == "no complete trial"
    study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, value=1.0, distributions={
        "x": FloatDistribution(0, 1)}))
    write_search_results(study, tmp_path)
    written = {p.name for p in tmp_path.glob("*.png")}
    assert written == {"optimization_history.png", "parallel_coordinate.png"}
    assert (tmp_path / "trials.md").read_text().splitlines()[2].startswith("| 0 | complete | 1 |")
    assert "run_dir" in (tmp_path / "trials.csv").read_text().splitlines()[0]


def test_sweep_extra_resolves_with_current_optuna_and_sqlalchemy():
    """The installed test environment holds the `sweep` extra with Optuna >= 4 and
    SQLAlchemy 2, and nothing here still needs Hydra's Optuna 2 sweeper."""
    requirements = [Requirement(r) for r in metadata.requires("qa-experiments")]
    sweep = [r for r in requirements if r.marker and r.marker.evaluate({"extra": "sweep"})]
    assert {r.name for r in sweep} >= {"optuna", "sqlalchemy", "hydra-joblib-launcher"}
    assert "hydra-optuna-sweeper" not in {r.name for r in sweep}
    for requirement in sweep:
        assert requirement.specifier.contains(metadata.version(requirement.name)), requirement
    assert int(metadata.version("optuna").split(".")[0]) >= 4
    assert int(metadata.version("sqlalchemy").split(".")[0]) >= 2
    sources = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts]
    assert not [p for p in sources if "hydra_optuna_sweeper" in p.read_text()
                and p.name != Path(__file__).name]


@pytest.mark.slow
def test_sweep_extra_installs_beside_the_newest_optuna_and_sqlalchemy(tmp_path):
    """pip resolves `.[sweep]` together with the newest Optuna and SQLAlchemy 2 from the index
    (no downgrade: the same pins a user's environment would bring)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(tmp_path / "report.json"), f"{ROOT}[sweep]", "optuna>=5",
         "sqlalchemy>=2.1", "alembic>=1.14"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    versions = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                for item in report["install"]}
    assert int(versions["optuna"].split(".")[0]) >= 5
    assert versions["sqlalchemy"].startswith("2.")


@pytest.mark.slow
def test_pruned_trial_is_tagged_in_its_wandb_run(tmp_path):
    sweep = search(tmp_path, "hydra.sweeper.n_trials=1", "hydra/sweeper/pruner=threshold",
                   "hydra.sweeper.pruner.upper=-1", "trainer.max_steps=3", "optimizer.lr=1e-3",
                   "logger=wandb", "logger.wandb.mode=offline")
    state = wandb_state(sweep / "0")
    assert "pruned" in state["tags"] and state["exit_code"] == 0
    assert state["summary"]["pruned"] is True and state["summary"]["pruned_at_step"] == 1
    # Its one slice score is in the history as eval/f1, but no full-set F1 in the summary.
    slice_f1 = json.loads((sweep / "0" / "intermediate.json").read_text())[0]["f1"]
    assert wandb_history(sweep / "0", "eval/f1") == [pytest.approx(slice_f1)]
    assert state["summary"]["eval/f1_pruning_slice"] == pytest.approx(slice_f1)
    assert "eval/f1" not in state["summary"]
    assert json.loads((sweep / "0" / "status.json").read_text())["status"] == "pruned"


def test_a_trial_is_never_pruned_at_its_last_step(tmp_path):
    # The pruner would stop any trial from step 2 on, but step 2 ends training: the trial is
    # evaluated on the full set and completes, its step-2 slice score kept in the study.
    sweep = search(tmp_path, "hydra.sweeper.n_trials=1", "hydra/sweeper/pruner=threshold",
                   "hydra.sweeper.pruner.upper=-1", "hydra.sweeper.pruner.n_warmup_steps=2",
                   "trainer.max_steps=2", "optimizer.lr=1e-3")
    [row] = trials_table(sweep)
    assert (row["state"], row["last_step"]) == ("complete", "2"), row
    assert (sweep / "0" / "results.json").is_file()
    scores = json.loads((sweep / "0" / "intermediate.json").read_text())
    assert [s["step"] for s in scores] == [1, 2]


@pytest.mark.slow
def test_submitit_trials_prune_in_their_own_processes(tmp_path):
    # Both trials run at once, each in a submitit process; no storage set: the sweeper keeps
    # the study in a journal file in the sweep directory, which the jobs report to.
    sweep = search(tmp_path, "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2",
                   "hydra.sweeper.n_trials=2", "hydra/sweeper/pruner=threshold",
                   "hydra.sweeper.pruner.upper=-1", "hydra.sweeper.pruner.n_warmup_steps=3",
                   "trainer.max_steps=4", "pruning.report_every=choice(1,2)",
                   "optimizer.lr=1e-3")
    states = {row["pruning.report_every"]: row["state"] for row in trials_table(sweep)}
    assert states == {"1": "pruned", "2": "complete"}
    assert (sweep / "optuna.journal").is_file()
    assert len(list(sweep.glob(".submitit/*/*_result.pkl"))) == 2


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes", "gp"])
def test_every_sampler_config_builds_a_working_optuna_sampler(sampler):
    from hydra.utils import instantiate


    sweeper = compose_with_hydra("hparams_search=optuna", f"hydra/sweeper/sampler={sampler}",
                                 "hydra/sweeper/pruner=median").hydra.sweeper
    study = optuna.create_study(sampler=instantiate(sweeper.sampler),
                                pruner=instantiate(sweeper.pruner), direction="maximize")
    study.optimize(lambda t: -(t.suggest_float("x", -1, 1) ** 2), n_trials=4)
    assert len(study.trials) == 4 and type(study.sampler).__name__.lower().startswith(
        {"tpe": "tpe", "random": "random", "cmaes": "cmaes", "gp": "gp"}[sampler])


@pytest.mark.parametrize("pruner", ["none", "median", "percentile", "successive_halving",
                                    "hyperband", "threshold"])
def test_every_pruner_config_builds_an_optuna_pruner(pruner):
    from hydra.utils import instantiate


    bound = ["hydra.sweeper.pruner.lower=10"] if pruner == "threshold" else []  # it needs one
    config = compose_with_hydra("hparams_search=optuna", f"hydra/sweeper/pruner={pruner}",
                                *bound).hydra.sweeper.pruner
    assert isinstance(instantiate(config), optuna.pruners.BasePruner)


def test_too_many_failures_end_the_search_with_its_results_written(tmp_path):
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *FAST, *TINY_SEARCH, "optimizer.lr=-1.0",
         "hydra.sweeper.max_failure_rate=0", "hydra.sweeper.n_trials=3",
         "optimizer.warmup=interval(0, 0.1)", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode != 0
    assert "1 of 1 trials failed, more than max_failure_rate=0" in done.stdout + done.stderr
    assert [row["state"] for row in trials_table(sweep)] == ["fail"]
