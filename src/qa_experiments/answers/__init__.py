"""From a model's logits to scored answers, one module per step.

- `model_eval`: run a model over evaluation windows, decode, score (what training and the CLIs call)
- `decoding`: start/end logits of every window -> each question's answer (the reference algorithm)
- `squad_metric`: the official SQuAD v1.1 / v2.0 exact-match and F1 rules (plain Python)
- `hf_evaluate`: the same metrics as offline Hugging Face `evaluate` modules
  (`hf_evaluate_modules/`)
- `calibration_metrics`: reliability bins, expected calibration error, Brier score
"""
