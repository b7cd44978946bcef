"""The unit layer stays one: no test under tests/unit trains, starts a process, is marked slow
or asks for the trained `tiny_run` (tests/unit_layer.py says what is refused). Tiny random QA
models (no training), built once per test session, and answerers over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from unit_layer import guarded_phase, misplaced


def pytest_collection_modifyitems(config, items):
    found = misplaced(items, Path(__file__).parent)
    if found:
        raise pytest.UsageError("unit tests may not be slow or use the trained tiny_run; move "
                                "them to tests/: " + ", ".join(found))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from guarded_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from guarded_phase())


CORPUS = [
    "The book was written by Jane Austen in 1813 and published in London.",
    "Ada Lovelace wrote the first program for the Analytical Engine.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
]


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """architecture -> a saved tiny random model (its tokenizer trained on CORPUS)."""
    from qa_experiments.model.tiny_models import build_tiny_model  # torch only when asked

    root = tmp_path_factory.mktemp("tiny_models")
    return {architecture: build_tiny_model(architecture, root / architecture, CORPUS,
                                           vocab_size=300)
            for architecture in ("bert", "roberta")}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model_dirs):
    return tiny_model_dirs["bert"]


@pytest.fixture(scope="session")
def answerer(tiny_model_dir):
    from qa_experiments.inference.answerer import QuestionAnswerer

    with QuestionAnswerer.load(tiny_model_dir) as loaded:
        yield loaded
