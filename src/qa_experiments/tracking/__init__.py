"""Experiment tracking: one Weights & Biases run per job, offline without credentials, continued
across resume and requeue (`wandb_run`) with no step lost or repeated (`wandb_history`), and the
Trainer callback that logs into it (`wandb_callback`). Independent of `search`, `analysis` and
`inference`: what it logs of a report comes to it as plain data. Imports `runs` and the
foundation."""
