"""Hyperparameter search: the search-space syntax, Optuna storage, what a sweeper and its
trials agree on (the trial protocol), the search results files, and the W&B sweep export.
Imports `runs`, `config` and the foundation modules; never the training stack."""
