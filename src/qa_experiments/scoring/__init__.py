"""From a model's logits to scored answers, one module per step.

- `decoding`: start/end logits of every window -> each question's answer (the reference algorithm)
- `squad_metric`: the official SQuAD v1.1 / v2.0 exact-match and F1 rules (plain Python)
- `hf_evaluate`: the same metrics as offline Hugging Face `evaluate` modules
  (`hf_evaluate_modules/`)
- `calibration_metrics`: reliability bins, expected calibration error, Brier score
- `calibration`: Platt scaling of an answer's probability to P(exact match)
- `no_answer`: SQuAD v2 thresholds: the official script's best_exact/best_f1, a tuned threshold
- `tuning`: cross-validated calibration and threshold figures, and what is stored with a model
- `question_records`: one record per scored question (`eval_questions.jsonl`)
- `answer_files`: `nbest_predictions.json` and `na_prob.json`
- `metric_names`: the names scores are logged and compared under (`eval/f1`)

Runs no model (that is `evaluation`). Imports only `runs` (atomic writes) and the foundation
modules of the package.
"""
