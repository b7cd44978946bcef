"""Run a model over evaluation windows and score what it answers: the logits pass, decoding into
answers and the official scores with calibration and the SQuAD v2 threshold (`model_eval`).
Training and inference both evaluate through it. Imports `scoring`, `model`, `data` and below."""
