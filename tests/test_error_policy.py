"""One user-error policy for every command: a mistake is one line on stderr,
`PROG: error: MESSAGE`, exit status 2, and nothing on stdout. Each case runs the real console
entry point (`python -m ...`) in a subprocess; none gets as far as loading a model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(module: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    # Transformers prints a banner when WANDB_MODE=offline is set (conftest sets it).
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def assert_one_error_line(done: subprocess.CompletedProcess, prog: str, expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "", done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{prog}: error: ") and expected in lines[0], lines[0]


@pytest.mark.parametrize(
    "module,prog,make_args,expected",
    [
        ("qa_experiments.predict", "qa-predict",
         lambda d: [str(d / "nothing"), "-q", "Who?", "-c", "Ada."], "No run or checkpoint"),
        ("qa_experiments.predict", "qa-predict",
         lambda d: [str(d), "--data", str(d / "missing.json")], "missing.json"),
        ("qa_experiments.predict", "qa-predict", lambda d: [str(d), "--top-k", "0"],
         "must be a positive count"),
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda d: [str(d / "nothing"), "--data", str(d / "missing.json")], "missing.json"),
        ("qa_experiments.evaluate", "qa-evaluate",
         lambda d: [str(d), "--data", str(d / "data.json"), "--out", str(d)], "is a directory"),
        ("qa_experiments.compare", "qa-compare", lambda d: [str(d / "nothing")],
         "not a directory"),
        ("qa_experiments.compare", "qa-compare", lambda d: [str(d)], "no jobs in"),
        ("qa_experiments.report", "qa-report", lambda d: [str(d)], "eval_questions.jsonl"),
        ("qa_experiments.wandb_sweep", "qa-wandb-sweep",
         lambda d: ["optimizer.lr=interval(1e-3, 1e-5)", "--output", str(d / "s.yaml")],
         "optimizer.lr=interval(1e-3, 1e-5)"),
        ("qa_experiments.wandb_sweep", "qa-wandb-sweep",
         lambda d: ["optimizer.lr=interval(1e-5", "--output", str(d / "s.yaml")],
         "cannot parse the search-space override"),
        ("qa_experiments.wandb_sweep", "qa-wandb-sweep", lambda d: ["--output", str(d)],
         "is a directory"),
        ("qa_experiments.wandb_sweep", "qa-wandb-sweep", lambda d: ["--min-iter", "0"],
         "must be a positive count"),
    ],
    ids=["predict-no-run", "predict-missing-data", "predict-top-k", "evaluate-missing-data",
         "evaluate-out-dir", "compare-missing", "compare-empty", "report-not-a-run",
         "sweep-reversed-interval", "sweep-unparsable", "sweep-output-dir", "sweep-min-iter"],
)
def test_every_cli_reports_a_mistake_in_one_stderr_line(module, prog, make_args, expected,
                                                          tmp_path):
    (tmp_path / "data.json").write_text('{"data": []}')
    done = run(module, *make_args(tmp_path), cwd=tmp_path)
    assert_one_error_line(done, prog, expected)


def test_a_bad_search_space_in_a_search_is_one_line(tmp_path):
    done = run("qa_experiments.train", "-m", "hparams_search=optuna", "logger=none",
               "hydra.sweeper.params.optimizer.lr=interval(1e-3, 1e-5)",
               f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert_one_error_line(done, "qa-train", "optimizer.lr=interval(1e-3, 1e-5)")


def test_text_that_is_not_utf8_on_the_command_line_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.predict", str(tmp_path), "-q", "Who?", "-c",
         b"It was written by \xffAda.", ], capture_output=True, text=True, timeout=120, env=env)
    assert_one_error_line(done, "qa-predict", "is not valid UTF-8 text")


def test_a_search_space_written_under_hydra_sweeper_params_says_the_form_that_works(tmp_path):
    done = run("qa_experiments.train", "hparams_search=optuna", "logger=none",
               "hydra.sweeper.params.model=choice(bert,roberta)",
               f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert_one_error_line(done, "qa-train", "e.g. 'model=choice(bert,roberta)'")


@pytest.mark.parametrize("override,key,choices", [
    ("model=choice(tiny_bert,tiny_roberta)", "model", ("tiny_bert", "tiny_roberta")),
    ("trainer.num_train_epochs=choice(1,2)", "trainer.num_train_epochs", (1, 2)),
])
def test_the_documented_search_space_forms_replace_the_presets_space(override, key, choices):
    """The forms conf/hparams_search/optuna.yaml shows: an override of the key itself."""
    from qa_experiments.search.search_space import parse_search_space
    from qa_experiments.search.wandb_sweep import preset_space

    distributions, _ = parse_search_space(preset_space() + [override])
    assert tuple(distributions[key].choices) == choices
    assert "optimizer.lr" in distributions  # the rest of the preset's space stays


def test_qa_push_refuses_an_unfinished_run_a_bad_repo_id_and_an_unreachable_hub(tiny_run,
                                                                                 tmp_path):
    """The Hub cannot be reached from here (HF_HUB_OFFLINE=1): the upload itself is not tested."""
    (tmp_path / "status.json").write_text('{"status": "running"}')
    assert_one_error_line(run("qa_experiments.push", str(tmp_path), "me/model"), "qa-push",
                          "holds no finished run (status: running)")
    assert_one_error_line(run("qa_experiments.push", str(tiny_run), "not a repo id!"), "qa-push",
                          "is not a Hub repository id")
    assert_one_error_line(run("qa_experiments.push", str(tiny_run), "me/model"), "qa-push",
                          "cannot upload to the Hub repository 'me/model'")


def test_without_the_sweep_extra_commands_stay_quiet_and_a_search_says_what_to_install(
        tmp_path):
    """The quick start's install has no `sweep` extra (no Optuna): Hydra's plugin scan must not
    warn on every command, and what needs the extra says which pip install brings it."""
    blocked = tmp_path / "no_optuna"
    blocked.mkdir()
    (blocked / "optuna.py").write_text(
        'raise ModuleNotFoundError("No module named \'optuna\'", name="optuna")\n')
    env = {**{k: v for k, v in os.environ.items() if k != "WANDB_MODE"},
           "PYTHONPATH": str(blocked)}

    def without_optuna(module, *args):
        return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                              text=True, timeout=120, env=env, cwd=tmp_path)

    plain = without_optuna("qa_experiments.train", "model=tiny_bert", "--cfg", "job")
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
    assert_one_error_line(without_optuna("qa_experiments.train", "hparams_search=optuna"),
                          "qa-train", "pip install 'qa-experiments[sweep]'")
    assert_one_error_line(without_optuna("qa_experiments.wandb_sweep"), "qa-wandb-sweep",
                          "pip install 'qa-experiments[sweep]'")
    assert "usage: qa-wandb-sweep" in without_optuna("qa_experiments.wandb_sweep", "--help").stdout
