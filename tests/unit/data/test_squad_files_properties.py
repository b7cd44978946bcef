"""Any JSON value in a data file is read as SQuAD or refused with one line: the reader
(data/squad_files.py) and the checks of the records read from it (data/splits.py), as
qa-predict and qa-evaluate read a --data file."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from qa_experiments.config.schema import DataConfig
from qa_experiments.errors import UserError
from qa_experiments.inference.predictor import load_examples

PROPERTY = settings(max_examples=200, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
# Any code point, lone surrogates included (JSON can spell them: \\ud800).
TEXTS = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["id", "question", "context", "answers", "text", "answer_start", "data", "paragraphs",
     "qas", "is_impossible", "${oc.env:HOME}", "???", ""])
SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | TEXTS
           | st.floats(allow_nan=True, allow_infinity=True))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXTS, inner, max_size=4), max_leaves=12)
ANSWER = st.fixed_dictionaries({}, optional={"text": JSON, "answer_start": JSON})
QUESTION = st.fixed_dictionaries({}, optional={
    "id": JSON, "question": JSON, "context": JSON, "is_impossible": JSON,
    "answers": JSON | st.lists(ANSWER | JSON, max_size=2)})
NESTED = st.fixed_dictionaries({"data": st.lists(st.fixed_dictionaries({}, optional={
    "title": JSON, "paragraphs": JSON | st.lists(st.fixed_dictionaries({}, optional={
        "context": JSON, "qas": JSON | st.lists(QUESTION | JSON, max_size=3)}), max_size=2)}),
    max_size=2)})
# Any value, values shaped like the official layout, and lists of flat records.
DATA_FILES = JSON | NESTED | st.lists(QUESTION | JSON, max_size=4)


@pytest.fixture(scope="module")
def data_cfg():
    return OmegaConf.structured(DataConfig(name="test"))


@PROPERTY
@given(content=DATA_FILES, require_answers=st.booleans(), suffix=st.sampled_from([".json",
                                                                                 ".jsonl"]))
def test_any_json_in_a_data_file_is_read_or_refused_in_one_line(
        tmp_path_factory, data_cfg, content, require_answers, suffix):
    path = tmp_path_factory.getbasetemp() / f"data{suffix}"
    lines = content if suffix == ".jsonl" and isinstance(content, list) else [content]
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    try:
        load_examples(data_cfg, path, require_answers=require_answers)
    except UserError as error:
        assert str(error) and len(str(error).splitlines()) == 1, str(error)
