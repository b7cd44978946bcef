"""Experiment tracking: the job's runs in the trackers `logger=...` chose, each told the same
through `tracker.Trackers` (started by `start`; the Trainer's rows through `callback`, which
logs a resumed attempt's missing checkpoint rows again: `wandb_history.rows_to_relog`). W&B:
one run per job, offline automatically without credentials, continued across resume and
requeue with no step lost or repeated (`wandb_run`, `wandb_history`; Transformers' W&B set-up
in `wandb_callback`). Independent of `search`, `analysis` and `inference`: what it logs of a
report comes to it as plain data. Imports `runs` and the foundation."""
