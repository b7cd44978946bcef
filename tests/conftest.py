"""Shared fixtures: offline environment, tiny models, Hydra composition helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach the network: the Hub and W&B are offline here and in CI.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import open_dict  # noqa: E402

import qa_experiments.train  # noqa: E402,F401 - registers the schema and resolvers
from qa_experiments.paths import bundled_data_path, config_dir  # noqa: E402
from qa_experiments.squad_data import read_squad_file  # noqa: E402
from qa_experiments.tiny_models import build_tiny_model  # noqa: E402

# Overrides that shrink a run to seconds on a CPU.
FAST = [
    "logger=none",
    "hardware=cpu",
    "data.max_train_samples=24",
    "data.max_eval_samples=12",
    "data.max_seq_length=128",
    "data.doc_stride=48",
    "data.max_question_length=32",
    "trainer.num_train_epochs=1",
    "hardware.train_batch_size=8",
    "trainer.logging_steps=1",
    "trainer.disable_tqdm=true",
]


@pytest.fixture(scope="session")
def bundled_contexts() -> list[str]:
    """Distinct contexts of the bundled v1.1 train subset (a realistic tokenizer corpus)."""
    records = read_squad_file(bundled_data_path("train-v1.1-subset.json.gz"))
    return list(dict.fromkeys(r["context"] for r in records))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, bundled_contexts) -> dict[str, Path]:
    """Tiny random-init bert / distilbert / roberta QA models with trained tokenizers."""
    root = tmp_path_factory.mktemp("tiny_models")
    corpus = bundled_contexts[:300]
    return {
        arch: build_tiny_model(arch, root / arch, corpus, vocab_size=3000)
        for arch in ("bert", "distilbert", "roberta")
    }


def compose_config(overrides: list[str], run_dir: Path | None = None):
    """Compose the real config with Hydra's compose API, as the entrypoint would."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
            cfg.hydra.job.override_dirname = run_dir.name
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg
