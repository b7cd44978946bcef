"""The reader of qa_export.json: whatever JSON the file holds, loading the export directory
either reads its settings or refuses it with one line (a UserError), never another error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_experiments.errors import UserError
from qa_experiments.inference.onnx_backend import EXPORT_FILE, FP32_FILE, export_settings
from qa_experiments.inference.predictor import load_run

WRITTEN = {"format": "onnx", "inputs": ["input_ids", "attention_mask", "token_type_ids"],
           "eval_batch_size": 64, "data": {"max_seq_length": 128, "doc_stride": 48},
           "null_score_diff_threshold": 0.0}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                                max_size=4),
    max_leaves=12)
# Mostly what qa-export writes with one value replaced, so that the checks behind the first
# are reached too (the data settings included).
edited = st.one_of(
    st.builds(lambda key, value: {**WRITTEN, key: value}, st.sampled_from(list(WRITTEN)),
              json_values),
    st.builds(lambda key, value: {**WRITTEN, "data": {**WRITTEN["data"], key: value}},
              st.sampled_from(["max_seq_length", "doc_stride", "n_best_size", "eval_file",
                               "version_2_with_negative", "max_answer_length", "unknown"]),
              json_values))


class Loaded(Exception):
    """Raised by check_inputs: the settings were read, the model would load next."""


def stop(_data_cfg) -> None:
    raise Loaded


@settings(derandomize=True, max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=json_values | edited)
def test_any_json_in_qa_export_json_loads_or_is_one_line(tmp_path, stored):
    (tmp_path / FP32_FILE).write_bytes(b"")  # checked only when the session is created
    (tmp_path / EXPORT_FILE).write_text(json.dumps(stored), encoding="utf-8")
    try:
        load_run(tmp_path, check_inputs=stop)
    except Loaded:
        pass
    except UserError as error:
        assert "\n" not in str(error) and str(error)


def test_the_settings_qa_export_writes_load(tmp_path):
    loaded = export_settings(WRITTEN, tmp_path / EXPORT_FILE)
    assert loaded.inputs == WRITTEN["inputs"] and loaded.eval_batch_size == 64


@pytest.mark.parametrize("change,expected", [
    ({"inputs": ["input_ids", "input_ids", "attention_mask"]}, "inputs is not"),
    ({"inputs": ["attention_mask", "input_ids"]}, "inputs is not"),
    ({"eval_batch_size": 0}, "eval_batch_size"),
    ({"eval_batch_size": True}, "eval_batch_size"),
    ({"null_score_diff_threshold": 10 ** 400}, "not a finite number"),
    ({"null_score_diff_threshold": "1"}, "not a finite number"),
    ({"format": "tflite"}, 'format is not "onnx"'),
    ({"extra": 1}, "unknown keys 'extra'"),
])
def test_a_setting_qa_export_does_not_write_is_named(tmp_path, change, expected):
    with pytest.raises(UserError, match=expected):
        export_settings({**WRITTEN, **change}, tmp_path / EXPORT_FILE)
