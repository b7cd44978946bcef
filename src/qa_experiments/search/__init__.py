"""Hyperparameter search: the search-space syntax (`search_space`), what a sweeper and its
trials agree on (`trial_protocol`), Optuna study storage (`optuna_storage`), the study's
results files (`study_report`), and the search space as a W&B sweep config
(`wandb_sweep_config`). Independent of `tracking`, `analysis` and `inference`; imports `scoring`
(metric names), `runs` and the foundation; never the training stack."""
