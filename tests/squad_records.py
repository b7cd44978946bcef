"""SQuAD records and data configs built by tests/test_data.py and tests/unit/data/test_splits.py:
the nested and flat layouts, a file, a split config."""

from __future__ import annotations

import json

from omegaconf import OmegaConf

from qa_experiments.config.schema import DataConfig

CONTEXT = "Ada Lovelace wrote the first program in 1843."


def nested(qas, context=CONTEXT):
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": context, "qas": qas}]}]}


def qa(qid, question="Who wrote it?", text="Ada Lovelace", start=0, **extra):
    return {"id": qid, "question": question, "answers": [{"text": text, "answer_start": start}],
            **extra}


def flat(qid, text="Ada Lovelace", start=0):
    return {"id": qid, "title": "T", "context": CONTEXT, "question": "Who wrote it?",
            "answers": {"text": [text], "answer_start": [start]}}


def write(path, content):
    path.write_text(json.dumps(content), encoding="utf-8")
    return str(path)


def split_cfg(train_file, eval_file=None, **overrides):
    return OmegaConf.merge(OmegaConf.structured(DataConfig(
        name="t", train_file=train_file, eval_file=eval_file or train_file)), overrides)
