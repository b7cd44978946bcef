"""The names a run's scores are logged under, shared by the trackers that log them and the
searches that compare runs by them."""

F1_METRIC = "eval/f1"  # dev F1: what sweeps maximise; intermediate values are on a slice
