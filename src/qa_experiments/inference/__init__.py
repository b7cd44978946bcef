"""Use a trained model without training: load a run, answer questions, score data files.
Imports `scoring`, `model`, `data`, `runs`, `config`; never `training`."""
