"""Inference without training: load_run, answer, and the predict / evaluate CLIs."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import torch

from qa_experiments import evaluate, predict
from qa_experiments.config.paths import bundled_data_path
from qa_experiments.data.splits import read_squad_file
from qa_experiments.data.windows import prepare_eval_features
from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.predictor import (
    RunLoadError,
    evaluate_file,
    load_run,
    prediction_device_arguments,
)

DEV = bundled_data_path("dev-v1.1.json.gz")
QUESTION = "Who wrote the book?"
CONTEXT = "The book was written by Jane Austen in 1813 and published in London."


@pytest.fixture(scope="module")
def run_dir(tiny_run):
    """The session's tiny BERT run (conftest.tiny_run); the CLIs below write their outputs
    beside its files, as they would for a user."""
    return tiny_run


@pytest.fixture(scope="module")
def run(run_dir):
    return load_run(run_dir)


@pytest.fixture(scope="module")
def trained(run_dir):
    """The run's config, results and predictions."""
    return {name: json.loads((run_dir / f"{name}.json").read_text())
            for name in ("config", "results", "predictions")}


def count_windows(run, question, context):
    examples = datasets.Dataset.from_list([{"id": "0", "question": question, "context": context}])
    return len(prepare_eval_features(examples, run.tokenizer, run.data_cfg))


def test_run_settings_come_from_config_json_and_defaults_for_a_bare_model(run, run_dir,
                                                                           tmp_path):
    assert (run.data_cfg.max_seq_length, run.data_cfg.doc_stride) == (128, 48)
    model = load_run(run_dir / "model")  # its qa_settings.json
    assert (model.data_cfg.max_seq_length, model.data_cfg.doc_stride) == (128, 48)
    shutil.copytree(run_dir / "model", tmp_path / "model")
    (tmp_path / "model" / "qa_settings.json").unlink()  # a model from elsewhere
    bare = load_run(tmp_path / "model")
    assert (bare.data_cfg.max_seq_length, bare.data_cfg.doc_stride) == (384, 128)


@pytest.fixture(scope="module")
def answerer(run):
    with QuestionAnswerer(run) as loaded:
        yield loaded


def test_answer_is_a_span_of_the_context(answerer):
    answer = answerer.answer(QUESTION, CONTEXT)
    assert answer.text and answer.text == CONTEXT[answer.start:answer.end]


def test_long_context_is_read_in_several_windows(run, answerer, trained):
    records = read_squad_file(DEV)
    context = ""
    for record in records:  # distinct paragraphs, joined to about 2,000 characters
        if record["context"] not in context:
            context += record["context"] + "\n\n"
        if len(context) >= 2000:
            break
    assert count_windows(run, QUESTION, context) >= 3
    answer = answerer.answer(QUESTION, context)
    assert answer.text and answer.text == context[answer.start:answer.end]
    # A dev question that needs several windows gets the answer it got after training.
    by_id = {r["id"]: r for r in records[:12]}
    qid = max(by_id, key=lambda q: count_windows(run, by_id[q]["question"], by_id[q]["context"]))
    assert count_windows(run, by_id[qid]["question"], by_id[qid]["context"]) > 1
    assert answerer.answer(by_id[qid]["question"], by_id[qid]["context"]).text == (
        trained["predictions"][qid])


def test_predict_cli_prints_the_answer_and_json(run_dir, capsys):
    assert predict.main([str(run_dir), "--question", QUESTION, "--context", CONTEXT]) == 0
    plain = capsys.readouterr().out.splitlines()[0]
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", CONTEXT, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"answer", "score", "start", "end", "probability", "confidence"}
    assert result["answer"] == plain == CONTEXT[result["start"]:result["end"]]
    assert 0 < result["probability"] <= 1
    assert result["confidence"] is None  # 12 eval questions: too few to fit a calibration


def test_predict_cli_stdout_holds_only_the_answer(run_dir):
    """Transformers' banner under WANDB_MODE=offline is shown on neither stream."""
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.predict", str(run_dir), "-q", QUESTION,
         "-c", CONTEXT, "--json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "WANDB_MODE": "offline"},
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"answer", "score", "start", "end", "probability",
                                            "confidence"}
    assert "Running in WANDB" not in done.stdout + done.stderr


def test_predict_cli_answers_a_data_file(run_dir, trained, tmp_path, capsys):
    out = tmp_path / "predictions.json"
    argv = [str(run_dir), "--data", DEV, "--max-samples", "5", "--out", str(out)]
    assert predict.main(argv) == 0
    predictions = json.loads(out.read_text())
    assert predictions == {qid: trained["predictions"][qid] for qid in list(predictions)}
    assert len(predictions) == 5 and "Wrote 5 predictions" in capsys.readouterr().out

    # Questions to answer need only id, question and context; default output path.
    flat = tmp_path / "questions.jsonl"
    flat.write_text("\n".join(json.dumps({"id": qid, "question": QUESTION, "context": CONTEXT,
                                          **extra})
                              for qid, extra in [("q1", {}), ("q2", {"answers": None}),
                                                 ("q3", {"answers": []})]) + "\n")
    assert predict.main([str(run_dir), "--data", str(flat)]) == 0
    written = json.loads((run_dir / "predictions_questions.json").read_text())
    assert list(written) == ["q1", "q2", "q3"] and written["q1"] in CONTEXT


@pytest.mark.parametrize("cli", [predict, evaluate])
def test_records_left_out_of_a_data_file_are_named(cli, run_dir, tmp_path, capsys):
    record = {"id": "q1", "question": QUESTION, "context": CONTEXT,
              "answers": {"text": ["Jane Austen"], "answer_start": [CONTEXT.index("Jane")]}}
    data = tmp_path / "questions.jsonl"
    data.write_text(json.dumps(record) + "\n" + json.dumps(record | {"id": "q2"})[:40] + "\n")
    assert cli.main([str(run_dir), "--data", str(data), "--out", str(tmp_path / "out.json")]) == 0
    (note,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert "1 used" in note and "invalid_json (first: line 2" in note
    written = json.loads((tmp_path / "out.json").read_text())  # the valid record is kept
    assert list(written) == ["q1"] if cli is predict else written["eval_examples"] == 1


def test_evaluate_cli_reproduces_the_training_scores(run_dir, trained):
    """Run as `python -m qa_experiments.evaluate`: the HF `evaluate` package is not shadowed."""
    data = trained["config"]["data"]
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.evaluate", str(run_dir), "--data",
         data["eval_file"], "--max-samples", str(data["max_eval_samples"])],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "exact_match=" in done.stdout and "f1=" in done.stdout
    metrics = json.loads((run_dir / "eval_dev-v1.1.json").read_text())
    results = trained["results"]
    for key in ("exact_match", "f1"):
        assert metrics[key] == pytest.approx(results[key], abs=1e-9)
    for key in ("eval_examples", "eval_features"):
        assert metrics[key] == results[key]
    # eval_questions.jsonl: the same per-question records as the run's, one per question
    records = [(run_dir / name).read_text().splitlines()
               for name in ("eval_questions.jsonl", "eval_dev-v1.1_questions.jsonl")]
    assert records[0] == records[1] and len(records[0]) == results["eval_examples"]
    rows = [json.loads(line) for line in records[0]]
    assert [r["prediction"] for r in rows] == list(trained["predictions"].values())
    assert 100 * sum(r["f1"] for r in rows) / len(rows) == pytest.approx(results["f1"])


@pytest.mark.parametrize("settings", ['{"data": {"max_seq_length": -5}}',
                                      '{"data": {"doc_stride": 500}}',
                                      '{"data": {"max_seq_length": "abc"}}'])
def test_bad_stored_window_settings_are_one_line(run_dir, tmp_path, capsys, settings):
    shutil.copytree(run_dir / "model", tmp_path / "model")
    (tmp_path / "model" / "qa_settings.json").write_text(settings)
    assert predict.main([str(tmp_path / "model"), "-q", QUESTION, "-c", CONTEXT]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Invalid data settings in" in err[0] and "qa_settings.json" in err[0]


def test_answers_do_not_depend_on_the_batch_size(run, trained):
    # Padding tokens get outputs too; decoding must not let them push real spans out of its
    # top-n, or an answer changes with the longest window batched with it.
    eval_file = trained["config"]["data"]["eval_file"]
    _, alone = evaluate_file(run, eval_file, max_samples=12, batch_size=1)
    _, batched = evaluate_file(run, eval_file, max_samples=12, batch_size=64)
    assert [r["prediction"] for r in batched] == [r["prediction"] for r in alone]
    for one, many in zip(alone, batched):
        assert many["probability"] == pytest.approx(one["probability"], abs=1e-5)


def test_evaluate_prints_the_v2_breakdown():
    text = evaluate.format_metrics({
        "exact_match": 50.0, "f1": 60.0, "eval_examples": 4, "eval_features": 5,
        "HasAns_exact_match": 0.0, "HasAns_f1": 20.0, "HasAns_total": 2,
        "NoAns_exact_match": 100.0, "NoAns_f1": 100.0, "NoAns_total": 2,
    })
    assert text.splitlines() == [
        "exact_match=50.00 f1=60.00 (4 questions, 5 windows)",
        "  HasAns: exact_match=0.00 f1=20.00 (2 questions)",
        "  NoAns: exact_match=100.00 f1=100.00 (2 questions)",
    ]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU settings")
def test_prediction_on_the_cpu_keeps_only_a_cpu_runs_bf16():
    assert prediction_device_arguments({})["use_cpu"]
    assert not prediction_device_arguments({"device": "cuda", "precision": "bf16"})["bf16"]
    assert not prediction_device_arguments({"device": "auto", "precision": "fp16"})["fp16"]
    assert prediction_device_arguments({"device": "cpu", "precision": "bf16"})["bf16"]


def test_bare_checkpoint_without_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RunLoadError, match="holds no model"):
        load_run(tmp_path)


@pytest.mark.parametrize("cli", [predict, evaluate])
@pytest.mark.parametrize("problem", ["missing_run", "no_model", "damaged_model", "missing_data",
                                     "bad_data", "truncated_gzip", "not_utf8"])
def test_user_errors_exit_2_with_one_line(cli, problem, run_dir, tmp_path, capsys):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"data": 3}')
    truncated = tmp_path / "dev.json.gz"
    truncated.write_bytes(Path(DEV).read_bytes()[:5000])
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"data": ["Adà"]}'.encode("latin-1"))
    damaged = shutil.copytree(run_dir / "model", tmp_path / "damaged")
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:weights.stat().st_size // 2])
    target, data = {
        "missing_run": (tmp_path / "nowhere", DEV),
        "no_model": (tmp_path, DEV),
        "damaged_model": (damaged, DEV),
        "missing_data": (run_dir, tmp_path / "missing.json"),
        "bad_data": (run_dir, bad_json),
        "truncated_gzip": (run_dir, truncated),
        "not_utf8": (run_dir, latin1),
    }[problem]
    argv = [str(target), "--data", str(data), "--max-samples", "2", "--out",
            str(tmp_path / "out.json")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err  # above it, at most progress bars of the model loading
    assert err.strip().splitlines()[-1].startswith(f"{cli.PROG}: error: ")
    assert err.count(f"{cli.PROG}: error") == 1 and "Traceback" not in err
    assert not (tmp_path / "out.json").exists()
    if problem == "damaged_model":
        assert "is damaged" in err


@pytest.mark.parametrize("cli,argv", [
    (predict, ["-q", QUESTION, "-c", CONTEXT]),
    (evaluate, ["--data", str(DEV), "--max-samples", "2"]),
])
@pytest.mark.parametrize("threshold", ["0.5", "auto"])
def test_null_threshold_on_a_v1_model_is_refused(cli, argv, threshold, run_dir, tmp_path,
                                                 capsys):
    out = ["--out", str(tmp_path / "out.json")] if cli is evaluate else []
    assert cli.main([str(run_dir), *argv, *out, "--null-threshold", threshold]) == 2
    err = capsys.readouterr().err
    assert "--null-threshold changes nothing" in err and "SQuAD v1.1" in err
    assert err.count(f"{cli.PROG}: error") == 1 and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("extra,message", [
    (["--data", str(DEV), "--json"], "--json prints one question's answer"),
    (["-q", QUESTION, "-c", CONTEXT, "--out", "x.json"], "--out goes with --data FILE"),
    (["-q", QUESTION, "-c", CONTEXT, "--max-samples", "3"], "--max-samples goes with --data"),
    (["-q", " ", "-c", CONTEXT], "--question is empty"),
    (["-c", "\t", "-i"], "--context is empty"),
])
def test_predict_options_that_would_be_ignored_are_refused(extra, message, tmp_path, capsys):
    assert predict.main([str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("cli,out,message", [
    (predict, "predictions.json", "would replace the predictions.json of the training run"),
    (evaluate, "results.json", "would replace the results.json of the training run"),
    # its question records would go to eval_questions.jsonl, the run's own
    (evaluate, "eval.json", "would replace the eval_questions.jsonl of the training run"),
    (predict, ".", "is a directory"),
    (evaluate, ".", "is a directory"),
])
def test_out_never_replaces_a_run_file_or_a_directory(cli, out, message, run_dir, capsys):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    argv = [str(run_dir), "--data", str(DEV), "--max-samples", "2", "--out", str(run_dir / out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count(f"{cli.PROG}: error") == 1
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_predict_interactive_answers_each_line_with_the_model_loaded_once(run_dir, answerer):
    questions = ["Who wrote the book?", "", "When was it written?"]
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.predict", str(run_dir), "-c", CONTEXT, "-i"],
        input="\n".join(questions) + "\n", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = [answerer.answer(q, CONTEXT).text for q in questions if q]
    assert done.stdout.splitlines() == expected


def test_predict_answers_a_context_without_tokens_with_no_answer(run_dir, capsys):
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", "\u200b\x00\u200b", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["answer"], answer["start"], answer["end"]) == ("", -1, -1)


class Terminal(io.TextIOWrapper):
    """Standard input typed at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stdin_class", [io.TextIOWrapper, Terminal])
def test_predict_interactive_reports_a_line_that_is_not_text_and_reads_on(
        run_dir, answerer, stdin_class, monkeypatch, capsys):
    lines = b"Who wrote the book?\n\xff\xfe?\n\nWhen was it written?\n"
    monkeypatch.setattr(sys, "stdin", stdin_class(io.BytesIO(lines), encoding="utf-8"))
    assert predict.main([str(run_dir), "-c", CONTEXT, "-i"]) == 2  # after answering the rest
    out, err = capsys.readouterr()
    expected = [answerer.answer(q, CONTEXT).text for q in ("Who wrote the book?",
                                                           "When was it written?")]
    assert out.splitlines() == expected
    errors = [line for line in err.replace(predict.PROMPT, "").splitlines() if line]
    assert errors == ["qa-predict: error: line 2 of standard input: not utf-8 text (byte 1); "
                      "skipped it"]
    # a prompt before each read at a terminal, on stderr: none in a pipe
    assert err.count(predict.PROMPT) == (5 if stdin_class is Terminal else 0)
