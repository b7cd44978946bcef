"""Experiment tracking: one Weights & Biases run per job, offline without credentials.
Imports `analysis` (to log the error-analysis report) and the layers below."""
