"""Defaults live once, in the schema: conf/config.yaml picks the groups and sets up Hydra, the
trainer node's defaults are schema.TRAINER_DEFAULTS, and the GPU batch shapes are written in
one hardware file."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from helpers import compose_config
from qa_experiments.config import schema
from qa_experiments.config.paths import config_dir


def test_the_primary_config_sets_no_values():
    primary = OmegaConf.load(config_dir() / "config.yaml")
    assert sorted(primary) == ["defaults", "hydra"]


def test_the_trainer_node_is_the_schemas():
    assert OmegaConf.to_container(compose_config([]).trainer) == schema.TRAINER_DEFAULTS
    assert OmegaConf.structured(schema.Config).trainer.num_train_epochs == 2


@pytest.mark.parametrize("key", ["train_batch_size", "eval_batch_size",
                                 "dataloader_num_workers"])
def test_gpu_batch_shapes_are_written_once(key):
    """hardware=gpu takes hardware=auto's shapes for a GPU, not a copy of its numbers."""
    node = {choice: compose_config([f"hardware={choice}"]).hardware
            for choice in ("auto", "gpu")}
    assert OmegaConf.to_container(node["gpu"])[key] == OmegaConf.to_container(node["auto"])[key]
    assert node["gpu"].device == "cuda"
