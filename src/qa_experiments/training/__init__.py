"""Fine-tuning: one experiment (`experiment.run_experiment`), the Trainer subclass and its
length sampler, and the Trainer callbacks (finite guard, whole-run ledger, Optuna trial
reports). Imports `tracking`, `search`, `scoring`, `model`, `data`, `runs`, `config`."""
