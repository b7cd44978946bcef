"""sweep_config: the Optuna preset's search space as a W&B sweep config."""

from __future__ import annotations

from qa_experiments.search.wandb_sweep_config import COMMAND, sweep_config


def test_preset_space_becomes_wandb_parameters():
    config = sweep_config(["optimizer.lr=tag(log, interval(1e-5, 1e-3))",
                           "hardware.train_batch_size=range(8, 33, 8)",
                           "trainer.num_train_epochs=int(interval(1, 3))", "data=squad"],
                          "random", min_iter=2)
    assert config["method"] == "random"
    assert config["metric"] == {"name": "eval/f1", "goal": "maximize"}
    assert config["early_terminate"] == {"type": "hyperband", "min_iter": 2}
    assert config["command"] == COMMAND
    assert config["command"][-1] == "${args_no_hyphens}"
    assert config["parameters"] == {
        "model": {"values": ["bert", "distilbert", "roberta", "minilm"]},
        "optimizer.warmup": {"distribution": "uniform", "min": 0.0, "max": 0.2},
        "optimizer.lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-3},
        "hardware.train_batch_size": {"values": [8, 16, 24, 32]},
        "trainer.num_train_epochs": {"distribution": "int_uniform", "min": 1, "max": 3},
        "pruning.intermediate_eval": {"value": True},  # eval/f1 during training, for Hyperband
        "data": {"value": "squad"},
    }
    overridden = sweep_config(["pruning.intermediate_eval=false"], "bayes", min_iter=1)
    assert overridden["parameters"]["pruning.intermediate_eval"] == {"value": False}
