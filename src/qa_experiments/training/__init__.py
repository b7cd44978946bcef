"""Fine-tuning: one experiment (`experiment.run_experiment`), the Trainer subclass and its
length sampler, and the Trainer callbacks (finite guard, whole-run ledger, Optuna trial
reports). Imports `search`, `tracking`, `scoring`, `model`, `data`, `runs` and the layers below."""
