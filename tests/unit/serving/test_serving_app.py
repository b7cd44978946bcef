"""What the JSON body check of qa-serve says about a body, before FastAPI reads it."""

import pytest

from qa_experiments.serving.app import json_problem


@pytest.mark.parametrize("body,problem", [
    (b'{"question": "Who?"}', None),
    (b'{"question": "\xff"}', "the body is not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "the body's JSON is nested too deeply"),
    (b"not json", "the body is not valid JSON"),
    (b"", "the body is not valid JSON"),
])
def testjson_problem(body, problem):
    assert json_problem(body) == problem
