"""Shared test setup: an offline environment and Hydra composition helpers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Tests never reach the network: the Hub and W&B are offline here and in CI.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models are built once per test session into a private cache (see model=tiny_*).
os.environ["QA_EXPERIMENTS_CACHE"] = tempfile.mkdtemp(prefix="qa-experiments-cache-")

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import open_dict  # noqa: E402

import qa_experiments.train  # noqa: E402,F401 - registers the schema and resolvers
from qa_experiments.config.paths import config_dir  # noqa: E402

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


def find_key(tree, key):
    """The value stored under `key` anywhere in a nested JSON structure (None if absent)."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            found = find_key(item, key)
            if found is not None:
                return found
    return None
