"""The check of qa_export.json (onnx_backend.export_settings): exactly what qa-export writes,
each value of its type; anything else is named in one line. (Any JSON in the file loads or is
one line: the property test in test_predictor_settings.py.)"""

from __future__ import annotations

import pytest

from qa_experiments.errors import UserError
from qa_experiments.inference.onnx_backend import export_settings
from qa_experiments.runs.layout import EXPORT_SETTINGS as EXPORT_FILE

WRITTEN = {"format": "onnx", "inputs": ["input_ids", "attention_mask", "token_type_ids"],
           "eval_batch_size": 64, "data": {"max_seq_length": 128, "doc_stride": 48},
           "null_score_diff_threshold": 0.0}


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
