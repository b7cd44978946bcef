"""One user-error policy for every command: a mistake is one line on stderr,
`PROG: error: MESSAGE`, exit status 2, and nothing on stdout. Each case runs the real console
entry point (`python -m ...`) in a subprocess; none gets as far as loading a model (bad data
is found before it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import assert_one_error_line, run


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
    from qa_experiments.search.wandb_sweep_config import preset_space

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


@pytest.mark.slow
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


CONTEXT = "Ada Lovelace wrote the first program in 1843."


def squad_records(path, *records) -> str:
    """A flat SQuAD file of (id, answer_start) records about CONTEXT."""
    path.write_text(json.dumps([
        {"id": qid, "title": "T", "context": CONTEXT, "question": "Who wrote it?",
         "answers": {"text": ["Ada Lovelace"], "answer_start": [start]}}
        for qid, start in records]))
    return str(path)


@pytest.mark.parametrize(
    "module,prog,records,expected",
    [
        ("qa_experiments.evaluate", "qa-evaluate", [("q0", 10**26)],
         "dropped 1 answer_outside_context (first: id 'q0': answer_start "
         "100000000000000000000000000 of answer 0"),
        ("qa_experiments.evaluate", "qa-evaluate", [("q0", -1), ("q1", 2.5)],
         "answer_start of answer 0 is a number 2.5, not an integer"),
        ("qa_experiments.evaluate", "qa-evaluate", [(["x"], 0)],
         "dropped 1 malformed_id (first: record 0 (0-based): the id is a list [\"x\"]"),
        ("qa_experiments.predict", "qa-predict", [(["x"], 0), (7, 0)],
         "dropped 2 malformed_id (first: record 0 (0-based): the id is a list [\"x\"]"),
        ("qa_experiments.evaluate", "qa-evaluate", [], "no usable SQuAD records"),
        ("qa_experiments.predict", "qa-predict", [], "no usable SQuAD records"),
    ],
    ids=["evaluate-huge-start", "evaluate-negative-and-float", "evaluate-list-id",
         "predict-list-and-number-id", "evaluate-no-records", "predict-no-records"],
)
def test_bad_records_are_one_line_naming_file_record_and_field_before_the_model_loads(
        tiny_run, tmp_path, module, prog, records, expected):
    """A huge answer_start was a pyarrow OverflowError traceback; a list id was turned into
    text; and the model was loaded (its progress bar printed) before the data was checked."""
    data = squad_records(tmp_path / "bad.json", *records)
    done = run(module, str(tiny_run), "--data", data, "--out", str(tmp_path / "out.json"))
    assert_one_error_line(done, prog, expected)
    assert f"{data}: " in done.stderr and "Loading weights" not in done.stderr
    assert not (tmp_path / "out.json").exists()


def test_a_file_with_some_bad_records_is_scored_on_the_rest_and_says_which(tiny_run, tmp_path):
    data = squad_records(tmp_path / "mixed.json", ("q0", 0), ("q1", 10**26), (["x"], 0))
    done = run("qa_experiments.evaluate", str(tiny_run), "--data", data, "--out",
               str(tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr
    (note,) = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert f"{data}: 3 records read, 1 used" in note and "id 'q1': answer_start" in note
    assert "1 malformed_id (first: record 2 (0-based)" in note
    report = json.loads((tmp_path / "out.json").read_text())["data_report"]
    assert report["dropped"] == {"answer_outside_context": 1, "malformed_id": 1}


def test_training_reads_hostile_records_through_the_same_checks(tmp_path):
    """qa-train data=local: the same record checks as qa-evaluate / qa-predict; with
    invalid_records=fail the file is refused in one line naming the record and the field."""
    good = [(f"g{i}", 0) for i in range(3)]
    data = squad_records(tmp_path / "train.json", *good, ("bad", 10**26), (["x"], 0))
    done = run("qa_experiments.train", "model=tiny_bert", "logger=none", "hardware=cpu",
               "data=local", f"data.train_file={data}", f"data.eval_file={data}",
               "data.invalid_records=fail", f"hydra.run.dir={tmp_path / 'run'}")
    assert_one_error_line(done, "qa-train", f"{data}: 5 records read")
    assert ("1 answer_outside_context (first: id 'bad': answer_start "
            "100000000000000000000000000 of answer 0") in done.stderr
    assert "1 malformed_id (first: record 4 (0-based): the id is a list" in done.stderr
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "failed"
