"""parse_search_space: the search-space syntax of Hydra's Optuna sweeper."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from qa_experiments.search.search_space import parse_search_space


def test_search_space_syntax_of_hydras_optuna_sweeper():
    distributions, fixed = parse_search_space([
        "model=choice(bert, roberta)", "optimizer.lr=tag(log, interval(1e-5, 1e-4))",
        "optimizer.warmup=interval(0, 0.2)", "trainer.num_train_epochs=int(interval(1, 3))",
        "hardware.train_batch_size=range(8, 33, 8)", "seed=shuffle(range(1, 3))",
        "data.max_seq_length=128", "optimizer.warmup=interval(0.0, 0.1)",  # a later one wins
    ])
    assert sorted(distributions.pop("seed").choices) == [1, 2]  # shuffled: a categorical
    assert distributions == {
        "model": CategoricalDistribution(["bert", "roberta"]),
        "optimizer.lr": FloatDistribution(1e-5, 1e-4, log=True),
        "optimizer.warmup": FloatDistribution(0.0, 0.1),
        "trainer.num_train_epochs": IntDistribution(1, 3),
        "hardware.train_batch_size": IntDistribution(8, 32, step=8),
    }
    assert fixed == {"data.max_seq_length": "128"}
