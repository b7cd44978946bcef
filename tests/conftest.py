"""Shared test setup: an offline environment, the config registrations (done once per session by
`registered_config`, as an entry point does before it composes), and the fixtures several test
modules use (helpers.py holds the plain functions)."""

from __future__ import annotations

import os
import tempfile

# Tests never reach the network: the Hub and W&B are offline here and in CI.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models are built once per test session into a private cache (see model=tiny_*).
os.environ["QA_EXPERIMENTS_CACHE"] = tempfile.mkdtemp(prefix="qa-experiments-cache-")

import pytest  # noqa: E402

from helpers import FAST, compose_config  # noqa: E402
from qa_experiments.config.paths import BUNDLED_DATA_DIR  # noqa: E402
from qa_experiments.data.squad_files import read_squad_file  # noqa: E402
from qa_experiments.hydra_runtime.resolvers import register_config  # noqa: E402
from qa_experiments.lifecycle.job import train  # noqa: E402
from scripts import build_v2_dev_split  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def registered_config():
    """The schema and resolvers registered, as qa-train does before composing a config."""
    register_config()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished run of tiny BERT (FAST: 24 train, 12 eval questions, 128-token windows),
    trained once per test session by the real train task and shared read-only; the high
    learning rate gets its dev F1 above 0, so that equal scores mean something."""
    run_dir = tmp_path_factory.mktemp("tiny_run") / "run"
    train(compose_config(FAST + ["model=tiny_bert", "optimizer.lr=3e-3"], run_dir))
    return run_dir


@pytest.fixture(scope="session")
def split_files():
    """The bundled SQuAD v2 dev split's records: (train part, held-out part)."""
    return (read_squad_file(BUNDLED_DATA_DIR / build_v2_dev_split.SPLIT_TRAIN),
            read_squad_file(BUNDLED_DATA_DIR / build_v2_dev_split.SPLIT_EVAL))
