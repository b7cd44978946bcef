"""Tiny random QA models (no training), built once per test session, and answerers over them."""

from __future__ import annotations

import pytest

from qa_experiments.inference.answerer import QuestionAnswerer
from qa_experiments.model.tiny_models import build_tiny_model

CORPUS = [
    "The book was written by Jane Austen in 1813 and published in London.",
    "Ada Lovelace wrote the first program for the Analytical Engine.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
]


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """architecture -> a saved tiny random model (its tokenizer trained on CORPUS)."""
    root = tmp_path_factory.mktemp("tiny_models")
    return {architecture: build_tiny_model(architecture, root / architecture, CORPUS,
                                           vocab_size=300)
            for architecture in ("bert", "roberta")}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model_dirs):
    return tiny_model_dirs["bert"]


@pytest.fixture(scope="session")
def answerer(tiny_model_dir):
    with QuestionAnswerer.load(tiny_model_dir) as loaded:
        yield loaded
