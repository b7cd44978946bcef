"""A Hydra sweeper on current Optuna (>= 4), shipped with qa-experiments; see optuna_sweeper."""
