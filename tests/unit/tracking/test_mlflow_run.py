"""What an MLflow run is given of the job's config and rows, within MLflow's limits."""

from __future__ import annotations

from qa_experiments.tracking.mlflow_run import (
    MAX_KEY,
    MAX_PARAM_VALUE,
    flat_params,
    metric_key,
    numbers,
)


def test_the_config_becomes_dotted_params_as_text():
    config = {"model": {"name": "tiny_bert", "revision": None}, "optimizer": {"lr": 1e-4},
              "logger": {"wandb": {"tags": ["a", "b"]}, "tensorboard": {}}, "seed": 42}
    assert flat_params(config) == {
        "model.name": "tiny_bert", "model.revision": "None", "optimizer.lr": "0.0001",
        "logger.wandb.tags": "['a', 'b']", "logger.tensorboard": "{}", "seed": "42"}


def test_params_and_keys_stay_within_mlflow_limits():
    params = flat_params({"data": {"eval_note": "x" * 10_000}, "k" * 300: 1})
    assert params["data.eval_note"] == "x" * MAX_PARAM_VALUE
    assert len(next(key for key in params if key.startswith("k"))) == MAX_KEY


def test_keys_lose_the_characters_mlflow_refuses():
    assert metric_key("slice/windows/3+ windows/f1") == "slice/windows/3_ windows/f1"
    assert metric_key("slice/word_overlap/75%+/count") == "slice/word_overlap/75__/count"
    assert metric_key("eval/f1") == "eval/f1"


def test_only_numbers_are_metrics():
    assert numbers({"eval/f1": 50, "train/loss": 1.5, "pruned": True, "device": "cpu",
                    "resumed_from_step": None}) == {"eval/f1": 50.0, "train/loss": 1.5}
