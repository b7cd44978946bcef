"""The stored settings a model is loaded with (a run's config.json, model/qa_settings.json,
an export's qa_export.json) are plain data: read as JSON, never interpolated, and any value in
them loads or is refused in one line before the model is read.

The model directories here hold a valid but empty safetensors file: every check of the settings
comes before the weights are loaded, and `check_inputs` (called once the settings are
accepted) stops there.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from qa_experiments import evaluate, predict
from qa_experiments.config.schema import DataConfig, HardwareConfig
from qa_experiments.errors import UserError
from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.inference.predictor import load_run
from qa_experiments.runs import layout

SECRET = "s3cr3t-token-value"
QUESTION, CONTEXT = "Who wrote the book?", "The book was written by Jane Austen."
PROPERTY = settings(max_examples=200, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


class Accepted(Exception):
    """Raised by check_inputs: the settings were accepted and the model would load now."""


def accept(data_cfg):
    raise Accepted


def write_model_dir(model_dir, *, pickled=False):
    """A model directory with everything load_run checks before reading the weights."""
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text('{"model_type": "bert"}')
    (model_dir / "tokenizer.json").write_text("{}")
    if pickled:
        torch.save({"qa_outputs.weight": torch.zeros(2, 4)}, model_dir / "pytorch_model.bin")
    else:
        save_file({"qa_outputs.weight": torch.zeros(2, 4)}, str(model_dir / "model.safetensors"))
    return model_dir


@pytest.fixture
def run_dir(tmp_path):
    """A finished run: status.json, config.json and model/."""
    write_model_dir(tmp_path / "run" / layout.MODEL_DIR)
    (tmp_path / "run" / layout.STATUS).write_text(json.dumps({"status": layout.FINISHED}))
    (tmp_path / "run" / layout.CONFIG).write_text(json.dumps({"data": {}}))
    (tmp_path / "dev.json").write_text(json.dumps([{"id": "1", "question": QUESTION,
                                                    "context": CONTEXT, "answers": []}]))
    return tmp_path / "run"


def refusal(path, **options) -> str:
    """The one-line message load_run refuses `path` with ("" when it accepts it)."""
    try:
        load_run(path, check_inputs=accept, **options)
    except Accepted:
        return ""
    except UserError as error:
        message = str(error)
        assert message and len(message.splitlines()) == 1, message
        return message
    raise AssertionError("load_run neither accepted nor refused")


# --- interpolation ------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["${oc.env:QA_TEST_SECRET}", "${no_such_resolver:x}",
                                   "prefix ${data.name} suffix"])
@pytest.mark.parametrize("key", ["eval_note", "max_seq_length"])
def test_an_interpolation_in_qa_settings_is_refused_and_never_resolved(
        run_dir, monkeypatch, capsys, key, value):
    monkeypatch.setenv("QA_TEST_SECRET", SECRET)
    model_dir = run_dir / layout.MODEL_DIR
    (model_dir / layout.MODEL_SETTINGS).write_text(json.dumps({"data": {key: value}}))
    assert predict.main([str(model_dir), "-q", QUESTION, "-c", CONTEXT]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1, captured
    assert err[0].startswith("qa-predict: error: ") and "interpolation" in err[0]
    assert "qa_settings.json" in err[0] and SECRET not in err[0]


def test_an_interpolation_in_a_run_config_is_refused(run_dir, monkeypatch, capsys):
    monkeypatch.setenv("QA_TEST_SECRET", SECRET)
    config = {"data": {}, "hardware": {"precision": "${oc.env:QA_TEST_SECRET}"}}
    (run_dir / layout.CONFIG).write_text(json.dumps(config))
    assert evaluate.main([str(run_dir), "--data", str(run_dir.parent / "dev.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interpolation" in err[0] and SECRET not in err[0]
    assert "hardware.precision" in err[0]


def test_an_interpolation_in_an_export_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_TEST_SECRET", SECRET)
    settings_ = {"format": "onnx", "inputs": ["input_ids"], "eval_batch_size": 8,
                 "data": {"eval_note": "${oc.env:QA_TEST_SECRET}"},
                 "null_score_diff_threshold": 0.0}
    (tmp_path / layout.EXPORT_SETTINGS).write_text(json.dumps(settings_))
    message = refusal(tmp_path)
    assert "interpolation" in message and SECRET not in message


def test_a_text_that_only_looks_like_omegaconf_is_kept_as_it_is(run_dir):
    model_dir = run_dir / layout.MODEL_DIR
    (model_dir / layout.MODEL_SETTINGS).write_text(json.dumps(
        {"data": {"eval_note": "costs $5 {per} \\ run", "max_seq_length": 256}}))
    seen = {}
    with pytest.raises(Accepted):
        load_run(model_dir, check_inputs=lambda cfg: seen.update(cfg) or accept(cfg))
    assert seen["eval_note"] == "costs $5 {per} \\ run" and seen["max_seq_length"] == 256


# --- values of the wrong type -------------------------------------------------------------

@pytest.mark.parametrize("config,named", [
    ({"data": {}, "model": ["bert"]}, "model is list"),
    ({"data": {}, "hardware": "fast"}, "hardware is str"),
    ({"data": {}, "hardware": {"eval_batch_size": "many"}}, "Invalid hardware settings"),
    ({"data": {}, "hardware": {"tf32": {"a": 1}}}, "Invalid hardware settings"),
    ({"data": {}, "trainer": {"per_device_eval_batch_size": -3}}, "evaluation batch size"),
    ({"data": {}, "trainer": {"per_device_eval_batch_size": 2.5}}, "evaluation batch size"),
    ({"data": {"null_score_diff_threshold": [1]}}, "null_score_diff_threshold"),
    ({"data": {"eval_note": "???"}}, "a value not set"),
    ({"data": {"max_seq_length": True}}, "Invalid data settings"),
])
def test_a_run_config_value_of_the_wrong_type_is_one_line(run_dir, capsys, config, named):
    (run_dir / layout.CONFIG).write_text(json.dumps(config))
    assert named in refusal(run_dir)
    for cli, argv in ((predict, ["-q", QUESTION, "-c", CONTEXT]),
                      (evaluate, ["--data", str(run_dir.parent / "dev.json")])):
        assert cli.main([str(run_dir), *argv]) == 2
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert captured.out == "" and len(err) == 1 and named in err[0], captured
    with pytest.raises(UserError, match=named):
        QuestionAnswerer.load(run_dir)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("in_model_dir", [False, True], ids=["config.json", "qa_settings.json"])
def test_a_non_finite_number_in_stored_data_settings_is_refused(run_dir, in_model_dir, value):
    """json.loads reads NaN and Infinity; a stored threshold of that kind is no setting."""
    path = run_dir / layout.MODEL_DIR if in_model_dir else run_dir
    settings_file = path / (layout.MODEL_SETTINGS if in_model_dir else layout.CONFIG)
    settings_file.write_text(json.dumps(
        {"data": {"version_2_with_negative": True, "null_score_diff_threshold": value}}))
    message = refusal(path)
    assert "null_score_diff_threshold" in message and "not a finite number" in message


def test_a_tokenizer_name_of_the_wrong_type_is_one_line(run_dir):
    (run_dir / layout.MODEL_DIR / "tokenizer.json").unlink()
    (run_dir / layout.CONFIG).write_text(json.dumps({"data": {}, "model": {"name_or_path": [1]}}))
    assert "holds no tokenizer" in refusal(run_dir)


def test_pickled_weights_are_refused_with_what_to_do(tmp_path, capsys):
    model_dir = write_model_dir(tmp_path / "model", pickled=True)
    assert predict.main([str(model_dir), "-q", QUESTION, "-c", CONTEXT]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pickle" in err[0] and "safetensors" in err[0]
    assert "weights_only" not in err[0]


# --- any JSON value -----------------------------------------------------------------------

# Any code point, lone surrogates included (JSON can spell them: \\ud800).
TEXTS = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["auto", "???", "${oc.env:HOME}", "${x:", "\\${y}", "cpu", "bf16", "fp16", "384", ""])
SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | TEXTS
           | st.floats(allow_nan=True, allow_infinity=True))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXTS, inner, max_size=3), max_leaves=8)


def settings_of(fields) -> st.SearchStrategy:
    """Objects whose keys are mostly the schema's, so that values reach the typed checks."""
    names = st.sampled_from(sorted(f.name for f in fields)) | TEXTS
    return st.dictionaries(names, JSON, max_size=5)


DATA = settings_of(DataConfig.__dataclass_fields__.values())
HARDWARE = settings_of(HardwareConfig.__dataclass_fields__.values())
RUN_CONFIG = JSON | st.fixed_dictionaries(
    {"data": DATA}, optional={"model": JSON | st.dictionaries(
        st.sampled_from(["name_or_path", "tokenizer_name_or_path", "revision",
                         "attn_implementation"]), JSON),
        "hardware": JSON | HARDWARE,
        "trainer": JSON | st.fixed_dictionaries({"per_device_eval_batch_size": JSON})})


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    """One run directory whose settings files each example rewrites."""
    run_dir = tmp_path_factory.mktemp("shared") / "run"
    write_model_dir(run_dir / layout.MODEL_DIR)
    return run_dir


@PROPERTY
@given(config=RUN_CONFIG)
def test_any_run_config_loads_or_is_one_line(shared_run, config):
    (shared_run / layout.CONFIG).write_text(json.dumps(config))
    refusal(shared_run)  # asserts accepted, or one UserError line


@PROPERTY
@given(stored=JSON | st.fixed_dictionaries({"data": DATA}),
       threshold=st.none() | st.sampled_from(["auto", 0.5]))
def test_any_qa_settings_loads_or_is_one_line(shared_run, stored, threshold):
    model_dir = shared_run / layout.MODEL_DIR
    (model_dir / layout.MODEL_SETTINGS).write_text(json.dumps(stored))
    refusal(model_dir, null_threshold=threshold)


EXPORT = st.fixed_dictionaries({}, optional={
    "format": JSON, "inputs": JSON | st.lists(st.sampled_from(["input_ids", "attention_mask",
                                                               "token_type_ids"]) | TEXTS),
    "eval_batch_size": JSON, "data": JSON | DATA, "null_score_diff_threshold": JSON})


@PROPERTY
@given(stored=JSON | EXPORT, precision=st.sampled_from([None, "fp32", "int8"]))
def test_any_qa_export_loads_or_is_one_line(tmp_path_factory, stored, precision):
    export_dir = tmp_path_factory.getbasetemp() / "export"
    export_dir.mkdir(exist_ok=True)
    (export_dir / "model.onnx").write_bytes(b"")
    (export_dir / layout.EXPORT_SETTINGS).write_text(json.dumps(stored))
    refusal(export_dir, precision=precision)
