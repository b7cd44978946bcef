"""Hyperparameter search: the search-space syntax, Optuna storage, what a sweeper and its
trials agree on (the trial protocol), the search results files, and the W&B sweep export.
Imports `tracking` (the W&B metric name), `runs` and the layers below; never the training
stack."""
