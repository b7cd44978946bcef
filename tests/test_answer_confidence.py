"""A tiny SQuAD v2 run end to end: n-best and no-answer files, official best thresholds,
the stored calibration and threshold, and qa-predict / qa-evaluate using them."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import FAST, compose_config
from official_v2_reference import official_figures
from qa_experiments import evaluate, predict
from qa_experiments.data.splits import read_squad_file
from qa_experiments.runs.summary import run_summary, tuning_lines
from qa_experiments.tracking.tracker import summary_metrics
from qa_experiments.train import train

QUESTION = "Who wrote the book?"
CONTEXT = "The book was written by Jane Austen in 1813 and published in London."


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny bert on the bundled v2 sample, 60 eval questions, threshold auto."""
    run_dir = tmp_path_factory.mktemp("confidence") / "run"
    train(compose_config(FAST + ["model=tiny_bert", "optimizer.lr=3e-3", "data=sample_v2",
                                 "data.max_eval_samples=60",
                                 "data.null_score_diff_threshold=auto"], run_dir))
    return run_dir


def read(run_dir, name):
    return json.loads((run_dir / name).read_text(encoding="utf-8"))


def test_run_writes_nbest_and_no_answer_files(run_dir):
    predictions, nbest = read(run_dir, "predictions.json"), read(run_dir, "nbest_predictions.json")
    na_prob = read(run_dir, "na_prob.json")
    assert list(nbest) == list(predictions) == list(na_prob)
    for qid, candidates in nbest.items():
        assert 1 <= len(candidates) <= 5  # data.nbest_predictions_size
        scores = [c["score"] for c in candidates]
        assert scores == sorted(scores, reverse=True)
        assert 0 < sum(c["probability"] for c in candidates) <= 1 + 1e-9
        no_answer = [c for c in candidates if c["text"] == ""]
        if no_answer:
            assert no_answer[0]["probability"] == pytest.approx(na_prob[qid])
            assert no_answer[0]["start_char"] == -1


def test_results_hold_the_official_best_thresholds_and_the_tuning(run_dir):
    results = read(run_dir, "results.json")
    config = read(run_dir, "config.json")
    records = {r["id"]: r for r in read_squad_file(config["data"]["eval_file"])}
    predictions = read(run_dir, "predictions.json")
    golds = {qid: [a["text"] for a in records[qid]["answers"]] for qid in predictions}
    expected = official_figures(golds, predictions, read(run_dir, "na_prob.json"))
    assert {key: results[key] for key in expected} == expected
    threshold, calibration = results["no_answer_threshold"], results["calibration"]
    # with auto, the run's own answers are those of the cross-validated thresholds
    assert results["f1"] == pytest.approx(threshold["cross_validated_f1"])
    assert threshold["threshold_used"].startswith("cross-validated")
    assert {"ece_before", "ece_after", "brier_before", "brier_after", "how"} <= set(calibration)
    stored = read(run_dir, "model/calibration.json")
    assert stored["null_score_diff_threshold"] == threshold["tuned_threshold"]
    assert stored["confidence"] == {**calibration["stored"], "questions": 60}
    rows = [json.loads(line) for line in (run_dir / "eval_questions.jsonl").open()]
    assert all(0 <= r["confidence"] <= 1 and 0 <= r["probability"] <= 1 for r in rows)


def test_predict_json_gives_probability_confidence_and_alternatives(run_dir, capsys):
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", CONTEXT, "--json",
                         "--top-k", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0 < result["probability"] <= 1 and 0 < result["confidence"] < 1
    assert len(result["alternatives"]) == 3
    assert result["alternatives"][0]["answer"] == result["answer"]
    assert result["alternatives"][0]["probability"] == result["probability"]


def test_predict_abstains_below_min_confidence_and_says_so(run_dir, capsys):
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", CONTEXT, "--json",
                         "--null-threshold", "1000",  # the model answers (a span)
                         "--min-confidence", "1"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert (result["answer"], result["abstained"]) == ("", True)
    assert "is below --min-confidence 1.0" in captured.err


def test_min_confidence_without_a_calibration_is_refused_before_loading(run_dir, tmp_path,
                                                                        capsys):
    bare = shutil.copytree(run_dir / "model", tmp_path / "bare")
    (bare / "calibration.json").unlink()
    assert predict.main([str(bare), "-q", QUESTION, "-c", CONTEXT,
                         "--min-confidence", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a calibration" in err[0]


def test_evaluate_uses_the_stored_threshold_and_reports_the_tuning(run_dir, tmp_path, capsys):
    config = read(run_dir, "config.json")
    out = tmp_path / "eval.json"
    assert evaluate.main([str(run_dir), "--data", config["data"]["eval_file"],
                          "--max-samples", "60", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "calibration (platt, 5-fold cross-validated)" in printed
    assert "no-answer threshold:" in printed and "oracle best_f1=" in printed
    metrics = json.loads(out.read_text())
    stored = read(run_dir, "model/calibration.json")["null_score_diff_threshold"]
    assert metrics["no_answer_threshold"]["threshold_used"] == stored
    assert {"best_exact", "best_f1_thresh", "calibration"} <= set(metrics)
    assert (tmp_path / "eval_questions.jsonl").is_file()
    assert 0 <= metrics["stored_calibration"]["ece"] <= 1
    assert "stored calibration on these questions: ECE" in printed


def test_run_summary_and_wandb_summary_carry_the_tuning(run_dir):
    results = read(run_dir, "results.json")
    text = run_summary(results, run_dir)
    assert "calibration (platt, 5-fold cross-validated): ECE" in text
    assert "no-answer threshold: f1=" in text
    metrics = summary_metrics(results)
    assert metrics["eval/calibration/ece_after"] == results["calibration"]["ece_after"]
    assert metrics["eval/no_answer_threshold/cross_validated_f1"] == pytest.approx(
        results["f1"])
    assert metrics["eval/best_f1_thresh"] == results["best_f1_thresh"]


def copy_with_calibration(run_dir, tmp_path, **changes):
    """A copy of the run whose model/calibration.json has `changes` (None: key removed)."""
    copy = shutil.copytree(run_dir, tmp_path / "copy", ignore=shutil.ignore_patterns("checkpoints"))
    path = copy / "model" / "calibration.json"
    stored = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            stored.pop(key)
        else:
            stored[key] = value
    path.write_text(json.dumps(stored))  # NaN and Infinity as Python's json writes them
    return copy


@pytest.mark.parametrize("changes,problem", [
    ({"confidence": {"method": "platt", "slope": float("nan"), "intercept": 0.0}},
     "slope nan and intercept 0.0 must be finite numbers"),
    ({"null_score_diff_threshold": float("inf")},
     "null_score_diff_threshold inf is not a finite number"),
])
def test_a_calibration_file_with_a_non_finite_value_is_refused(run_dir, tmp_path, capsys,
                                                               changes, problem):
    copy = copy_with_calibration(run_dir, tmp_path, **changes)
    assert predict.main([str(copy), "-q", QUESTION, "-c", CONTEXT, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # was {"confidence": NaN, ...}, which is not JSON
    assert "is not a calibration file qa-train wrote" in captured.err and problem in captured.err


def test_a_run_trained_with_auto_whose_tuning_was_skipped_decodes_with_0(run_dir, tmp_path,
                                                                         capsys):
    copy = copy_with_calibration(run_dir, tmp_path, null_score_diff_threshold=None)
    assert read(copy, "config.json")["data"]["null_score_diff_threshold"] == "auto"
    assert predict.main([str(copy), "-q", QUESTION, "-c", CONTEXT]) == 0  # as training did
    capsys.readouterr()
    assert predict.main([str(copy), "-q", QUESTION, "-c", CONTEXT,
                         "--null-threshold", "auto"]) == 2  # asked for explicitly: refused
    assert "give a number instead of auto" in capsys.readouterr().err


def test_min_confidence_leaves_the_models_own_no_answer_alone(run_dir, capsys):
    assert predict.main([str(run_dir), "-q", QUESTION, "-c", CONTEXT, "--json",
                         "--null-threshold", "-1000", "--min-confidence", "1"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["answer"] == "" and "abstained" not in result
    assert "below --min-confidence" not in captured.err


@pytest.mark.parametrize("threshold", [None, 1e9])  # the run's tuned one; never "no answer"
def test_python_api_answers_as_qa_evaluate_scores_single_and_batch(run_dir, threshold):
    """The answering API (what qa-predict and qa-serve use) gives qa-evaluate's answers on the
    run's own eval questions: text, offsets, probability, no-answer probability; its confidence
    is the stored calibration of that probability; one at a time and batched alike."""
    from qa_experiments.inference.answerer import QuestionAnswerer
    from qa_experiments.inference.predictor import evaluate_file

    config = read(run_dir, "config.json")
    with QuestionAnswerer.load(run_dir, null_threshold=threshold) as answerer:
        assert answerer.calibrated and answerer.version_2
        _, records = evaluate_file(answerer.run, config["data"]["eval_file"],
                                   max_samples=config["data"]["max_eval_samples"])
        pairs = [(r["question"], r["context"]) for r in records]
        batch = answerer.answer_batch(pairs, top_k=3)
        singles = [answerer.answer(q, c, top_k=3) for q, c in pairs[:8]]
        calibration = answerer.run.calibration
    assert batch[:8] == singles
    if threshold is not None:
        assert all(r["prediction"] for r in records)
    for record, answer in zip(records, batch):
        assert answer.text == record["prediction"]
        assert answer.start == record["answer_start_char"]
        assert answer.text == (record["context"][answer.start:answer.end] if answer.text else "")
        assert answer.probability == pytest.approx(record["probability"])
        assert answer.no_answer_probability == pytest.approx(record["no_answer_probability"])
        assert answer.confidence == pytest.approx(calibration.confidence(record["probability"]))
        assert len(answer.alternatives) == 3 and not answer.abstained


def test_python_api_withholds_answers_below_min_confidence(run_dir):
    from qa_experiments.inference.answerer import QuestionAnswerer

    context = read_squad_file(read(run_dir, "config.json")["data"]["eval_file"])[0]["context"]
    with QuestionAnswerer.load(run_dir) as answerer:
        answer = answerer.answer("What is it about?", context)
        withheld = answerer.answer("What is it about?", context, min_confidence=1.0)
    if answer.text:
        assert withheld.abstained and withheld.text == "" and withheld.start == -1
        assert withheld.model_answer == answer.text
    else:  # the model's own "no answer" is never withheld
        assert not withheld.abstained


def test_the_summary_says_when_calibration_did_not_help():
    def calibration(brier_after):
        return {"calibration": {"method": "platt", "folds": 5, "ece_before": 0.08,
                                "ece_after": 0.05, "brier_before": 0.1096,
                                "brier_after": brier_after}}

    worse = tuning_lines(calibration(0.1119))
    assert "Brier 0.1096 -> 0.1119" in worse[0]
    assert "calibration did not help" in worse[1]
    assert len(tuning_lines(calibration(0.1000))) == 1  # it helped: nothing to explain


def test_a_model_directory_alone_answers_as_its_run(run_dir, tmp_path, capsys):
    """model/ copied away from its run (or pushed to the Hub) keeps the run's windows, SQuAD v2
    decoding and tuned threshold (model/qa_settings.json); a damaged settings file is refused."""
    from qa_experiments.inference.predictor import evaluate_file, load_run

    model_copy = tmp_path / "model"
    shutil.copytree(run_dir / "model", model_copy)
    config = read(run_dir, "config.json")
    bare, whole = load_run(model_copy), load_run(run_dir)
    assert bare.data_cfg.version_2_with_negative and bare.data_cfg.max_seq_length == 128
    assert bare.data_cfg.null_score_diff_threshold == whole.data_cfg.null_score_diff_threshold
    records = [evaluate_file(run, config["data"]["eval_file"], max_samples=60)[1]
               for run in (bare, whole)]
    assert [r["prediction"] for r in records[0]] == [r["prediction"] for r in records[1]]
    assert "" in [r["prediction"] for r in records[0]]  # it abstains, as a v2 model does
    (model_copy / "qa_settings.json").write_text("[1, 2]")
    assert predict.main([str(model_copy), "-q", QUESTION, "-c", CONTEXT]) == 2
    assert "qa_settings.json" in capsys.readouterr().err
