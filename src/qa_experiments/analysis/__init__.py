"""Error analysis of an evaluated run: slices, SQuAD v2 abstention, calibration, the report."""
