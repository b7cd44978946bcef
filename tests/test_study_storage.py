"""What a search reads back from its study storage: data, never code (the pruner is rebuilt
from a checked description, whatever a shared journal or database holds); storage that cannot
be opened or is damaged, refused in one line before any trial; a resumed study that continues
its sampler instead of repeating its trials, and refuses another direction or search space.
In process, without training: Optuna directly, the sweeper with a stand-in launcher, and the
trial's own `open_trial`; the few real `qa-train` runs start no trial."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from hydra.utils import instantiate
from optuna.trial import TrialState

from helpers import FAST, compose_config, compose_with_hydra, one_line
from hydra_plugins.qa_experiments_optuna.optuna_sweeper import OptunaSweeper, continued_seed
from qa_experiments.errors import UserError
from qa_experiments.lifecycle.job import train
from qa_experiments.search.optuna_storage import StorageError, open_storage
from qa_experiments.search.search_space import StudyMismatchError, describe_space
from qa_experiments.search.trial_protocol import (
    PRUNER_ATTR,
    PRUNERS,
    SPACE_ATTR,
    StudyAttributeError,
    describe_pruner,
    pruner_from_description,
    trial_environment,
    trial_location,
)
from qa_experiments.training.trial_reporting import open_trial

SPACE = ["x=interval(0.0, 1.0)", "m=choice(a, b, c, d)"]
TINY_SEARCH = ["hparams_search=optuna", "model=tiny_bert", "hydra.sweeper.params=null",
               "hydra.sweeper.n_trials=1"]


class Launcher:
    """Stands in for Hydra's launcher: records the overrides, returns each job's value (or
    raises `error`)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.launched: list[list[str]] = []
        self.error = error

    def launch(self, overrides, initial_job_idx):
        if self.error is not None:
            raise self.error
        self.launched += overrides
        return [JobReturn(overrides=list(job), status=JobStatus.COMPLETED,
                          _return_value=float(initial_job_idx + i))
                for i, job in enumerate(overrides)]


def sweeper(tmp_path: Path, storage: str | None, *, sampler: str = "RandomSampler",
            direction: str = "maximize", pruner: dict | None = None, n_trials: int = 2,
            launcher: Launcher | None = None) -> OptunaSweeper:
    """The sweeper as Hydra builds and sets it up, with a stand-in launcher: one command."""
    sampler_config = {"_target_": f"optuna.samplers.{sampler}", "seed": 42}
    pruner_config = pruner or {"_target_": "optuna.pruners.NopPruner"}
    search = OptunaSweeper(sampler=instantiate(sampler_config), pruner=instantiate(pruner_config),
                           direction=direction, storage=storage, study_name="qa",
                           n_trials=n_trials, n_jobs=1, max_failure_rate=1.0, params=None)
    search.launcher = launcher or Launcher()
    search.sweep_dir = tmp_path / "sweep"
    search.sampler_config, search.pruner_config = sampler_config, pruner_config
    return search


@pytest.fixture(autouse=True)
def no_result_files(monkeypatch):
    """The results files and plots are another test's business (and matplotlib is slow)."""
    monkeypatch.setattr("hydra_plugins.qa_experiments_optuna.optuna_sweeper."
                        "write_search_results", lambda study, sweep_dir: None)


def stored_trials(storage: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="qa", storage=open_storage(storage)).trials


# 1. Nothing read from a study is instantiated.

def injected_study(tmp_path: Path, monkeypatch) -> tuple[dict, Path]:
    """A journal study the sweeper started, with a running trial this process is the job of,
    and a pruner attribute an intruder appended to the shared file since: a _target_ that
    copies a file (before, every trial's job instantiated it). (the payload, its marker)"""
    journal = tmp_path / "optuna.journal"
    spec = f"journal:{journal}"
    sweeper(tmp_path, spec, pruner={"_target_": "optuna.pruners.MedianPruner"},
            n_trials=1).sweep(SPACE)
    study = optuna.load_study(study_name="qa", storage=open_storage(spec))
    assert study.user_attrs[PRUNER_ATTR] == {"name": "median", "arguments": {}}
    trial = study.ask()

    secret, marker = tmp_path / "secret.txt", tmp_path / "copied.txt"
    secret.write_text("secret")
    payload = {"_target_": "shutil.copyfile", "src": str(secret), "dst": str(marker)}
    record = {"op_code": 2, "worker_id": "intruder",
              "study_id": open_storage(spec).get_study_id_from_name("qa"),
              "user_attr": {PRUNER_ATTR: payload}}
    with journal.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    for name, value in trial_environment("qa", spec, trial.number).items():
        monkeypatch.setenv(name, value)
    return payload, marker


def test_an_injected_target_in_a_shared_journal_never_runs(tmp_path, monkeypatch):
    payload, marker = injected_study(tmp_path, monkeypatch)
    with pytest.raises(StudyAttributeError) as refused:
        open_trial(*trial_location())
    message = one_line(refused.value)
    assert message.startswith("study 'qa' in journal:"), message
    assert PRUNER_ATTR in message and "unknown key '_target_'" in message
    assert not marker.exists()
    instantiate(payload)  # what the payload does when it is built: the test's proof
    assert marker.read_text() == "secret"


def test_a_trial_job_fails_on_an_injected_pruner_without_building_it(tmp_path, monkeypatch):
    # The real train task, as the trial's job runs it (in-process, tiny BERT).
    _, marker = injected_study(tmp_path, monkeypatch)
    run_dir = tmp_path / "job"
    with pytest.raises(StudyAttributeError, match="unknown key '_target_'"):
        train(compose_config([*FAST, "model=tiny_bert", "trainer.max_steps=2"], run_dir))
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "\n" not in status["error"]
    assert status["error"].startswith("StudyAttributeError: study 'qa' in journal:")
    assert not marker.exists()
    spec = trial_location()[1]
    assert [t.intermediate_values for t in stored_trials(spec)] == [{}, {}]


@pytest.mark.parametrize("pruner", list(PRUNERS))
def test_every_pruner_the_config_offers_travels_as_a_plain_description(pruner):
    bound = ["hydra.sweeper.pruner.lower=10"] if pruner == "threshold" else []
    config = compose_with_hydra("hparams_search=optuna", f"hydra/sweeper/pruner={pruner}",
                                *bound).hydra.sweeper.pruner
    description = describe_pruner(dict(config))
    assert json.loads(json.dumps(description)) == description  # plain JSON, no _target_
    assert "_target_" not in json.dumps(description)
    rebuilt = pruner_from_description(description, "study 'qa'")
    assert type(rebuilt) is type(instantiate(config))


def test_a_pruner_trials_cannot_rebuild_is_refused_before_any_trial(tmp_path):
    search = sweeper(tmp_path, f"journal:{tmp_path / 'optuna.journal'}",
                     pruner={"_target_": "optuna.pruners.PatientPruner", "wrapped_pruner": None,
                             "patience": 1})
    with pytest.raises(StudyAttributeError, match="not a pruner that trials can rebuild"):
        search.sweep(SPACE)
    assert search.launcher.launched == []


# 2. Bad storage: one line, before any trial.

def bad_storages(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (storage, what its message says)."""
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    cut = tmp_path / "cut.journal"
    optuna.create_study(study_name="qa", storage=open_storage(f"journal:{cut}")).ask()
    cut.write_bytes(cut.read_bytes()[:-7])
    garbled = tmp_path / "garbled.journal"
    garbled.write_bytes(cut.read_bytes().split(b"\n")[0] + b"\n<<garbage>>\n{}\n")
    (tmp_path / "folder").mkdir()
    return {
        "unknown scheme": ("foo://host/db", "unknown kind of storage 'foo'"),
        "no scheme": ("optuna.db", "neither journal:PATH nor a database URL"),
        "text file as sqlite": (f"sqlite:///{text}", "is not an SQLite database"),
        "sqlite in a missing directory": (f"sqlite:///{tmp_path}/missing/x.db", "does not exist"),
        "journal cut mid-line": (f"journal:{cut}", "its last line (2) is cut off"),
        "journal with a line that is not JSON": (f"journal:{garbled}", "line 2 is not a JSON"),
        "journal that is a directory": (f"journal:{tmp_path / 'folder'}", "is a directory"),
        "unknown database driver": ("postgresql+nodriver://u:pw@localhost/db",
                                    "unknown kind of storage 'postgresql+nodriver'"),
        "database out of reach": ("postgresql://u:pw@localhost:1/db",
                                  "cannot open the study storage 'postgresql://u:***@localhost:1/db'"),
    }


@pytest.mark.parametrize("name", [
    "unknown scheme", "no scheme", "text file as sqlite", "sqlite in a missing directory",
    "journal cut mid-line", "journal with a line that is not JSON",
    "journal that is a directory", "unknown database driver", "database out of reach"])
def test_bad_storage_is_refused_in_one_line_before_any_trial(tmp_path, name):
    storage, problem = bad_storages(tmp_path)[name]
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(StorageError) as refused:
        open_storage(storage)
    assert problem in one_line(refused.value)
    assert "pw@" not in str(refused.value)  # a password is never shown
    search = sweeper(tmp_path, storage)
    with pytest.raises(StorageError):
        search.sweep(SPACE)
    assert search.launcher.launched == []
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_the_real_command_reports_bad_storage_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n")
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *FAST, *TINY_SEARCH,
         "hydra.sweeper.storage=sqlite:///notes.txt", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert [line for line in done.stderr.splitlines() if not line.startswith("[I ")] == [
        f"qa-train: error: study storage 'sqlite:///{tmp_path}/notes.txt': {tmp_path}/notes.txt "
        "is not an SQLite database; name a new file or the database an earlier search wrote"]
    assert not (tmp_path / "sweep").exists()


# 3. A resumed study continues; another direction or space is refused.

@pytest.mark.parametrize("sampler", ["RandomSampler", "TPESampler"])
def test_a_resumed_search_draws_new_trials_reproducibly(tmp_path, sampler):
    # The same command twice on one stored study: the seeded sampler drew trials 0-1 again.
    def two_searches(name: str) -> list[dict]:
        storage = f"sqlite:///{tmp_path / name}"
        for _ in range(2):
            sweeper(tmp_path, storage, sampler=sampler).sweep(SPACE)
        return [trial.params for trial in stored_trials(storage)]

    first = two_searches("first.db")
    assert len(first) == 4
    assert len({params["x"] for params in first}) == 4, first
    assert first[2:] != first[:2]
    assert two_searches("again.db") == first  # seeded: the same searches, the same trials
    assert continued_seed(42, 0) == 42  # a new study draws what it always drew


@pytest.mark.parametrize(("change", "problem"), [
    (["x=interval(0.0, 2.0)", "m=choice(a, b, c, d)"], "x is FloatDistribution(high=2.0"),
    (["x=interval(0.0, 1.0)", "m=choice(a, b, c)"], "m is CategoricalDistribution"),
    (["x=interval(0.0, 1.0)"], "m is searched there"),
    ([*SPACE, "y=range(1, 4)"], "y is searched here"),
])
def test_a_resumed_search_over_another_space_is_refused_before_any_trial(
        tmp_path, change, problem):
    storage = f"journal:{tmp_path / 'optuna.journal'}"
    sweeper(tmp_path, storage).sweep(SPACE)
    search = sweeper(tmp_path, storage)
    with pytest.raises(StudyMismatchError) as refused:
        search.sweep(change)
    message = one_line(refused.value)
    assert message.startswith("study 'qa' in journal:") and problem in message, message
    assert search.launcher.launched == []
    assert [t.state for t in stored_trials(storage)] == [TrialState.COMPLETE] * 2


def test_a_resumed_search_in_the_other_direction_is_refused(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    sweeper(tmp_path, storage).sweep(SPACE)
    search = sweeper(tmp_path, storage, direction="minimize")
    with pytest.raises(StudyMismatchError, match="created to maximize its objective, this "
                                                 "search would minimize it") as refused:
        search.sweep(SPACE)
    one_line(refused.value)
    assert search.launcher.launched == [] and len(stored_trials(storage)) == 2
    with pytest.raises(UserError, match="hydra.sweeper.direction=down is not one of"):
        sweeper(tmp_path, storage, direction="down").sweep(SPACE)


def test_a_study_stored_without_its_space_is_compared_with_its_trials(tmp_path):
    # A study an earlier version of the sweeper wrote: no space attribute, only trials.
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    old = optuna.create_study(study_name="qa", storage=storage, direction="maximize")
    old.optimize(lambda trial: trial.suggest_float("x", 0.0, 2.0), n_trials=1)
    with pytest.raises(StudyMismatchError, match="trial 0: x is FloatDistribution"):
        sweeper(tmp_path, storage).sweep(["x=interval(0.0, 1.0)"])
    sweeper(tmp_path, storage).sweep(["x=interval(0.0, 2.0)"])
    study = optuna.load_study(study_name="qa", storage=storage)
    assert study.user_attrs[SPACE_ATTR] == describe_space(study.trials[0].distributions)


def test_the_study_keeps_plain_json_and_no_trial_is_left_running(tmp_path):
    storage = f"journal:{tmp_path / 'optuna.journal'}"
    search = sweeper(tmp_path, storage, launcher=Launcher(error=RuntimeError("launcher down")),
                     pruner={"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 2})
    with pytest.raises(RuntimeError, match="launcher down"):
        search.sweep(SPACE)
    study = optuna.load_study(study_name="qa", storage=open_storage(storage))
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert study.user_attrs[PRUNER_ATTR] == {"name": "median",
                                             "arguments": {"n_startup_trials": 2}}
    assert json.loads(json.dumps(study.user_attrs[SPACE_ATTR])) == study.user_attrs[SPACE_ATTR]


def test_the_real_command_refuses_another_space_in_one_line(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="qa", storage=storage, direction="maximize")
    study.set_user_attr(SPACE_ATTR, describe_space(
        {"optimizer.lr": optuna.distributions.FloatDistribution(1e-5, 1e-4, log=True)}))
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", *FAST, *TINY_SEARCH,
         "hydra.sweeper.storage=sqlite:///optuna.db", "hydra.sweeper.study_name=qa",
         "optimizer.lr=tag(log, interval(1e-5, 1e-3))", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    [line] = [line for line in done.stderr.splitlines() if not line.startswith("[I ")]  # Optuna's
    assert line.startswith(f"qa-train: error: study 'qa' in {storage} searches another space "
                           "than this search: optimizer.lr is FloatDistribution(high=0.001"), line
    assert optuna.load_study(study_name="qa", storage=storage).trials == []


@pytest.mark.slow
def test_the_same_search_command_twice_continues_the_stored_study(tmp_path):
    # Before, trials 2-3 of the second command had exactly the parameters of trials 0-1.
    command = [sys.executable, "-m", "qa_experiments.train", *FAST, "hparams_search=optuna",
               "model=tiny_bert", "hydra.sweeper.params=null", "hydra.sweeper.n_trials=2",
               "hydra.sweeper.storage=sqlite:///optuna.db", "hydra.sweeper.study_name=qa",
               "trainer.max_steps=1", "optimizer.lr=tag(log, interval(1e-4, 1e-3))",
               "hardware.train_batch_size=choice(4, 8)"]
    for sweep in ("first", "second"):
        done = subprocess.run([*command, f"hydra.sweep.dir={tmp_path / sweep}"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    trials = stored_trials(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert len({t.params["optimizer.lr"] for t in trials}) == 4, [t.params for t in trials]
    assert [t.params for t in trials[2:]] != [t.params for t in trials[:2]]
