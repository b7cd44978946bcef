"""Error analysis of an evaluated run (slices, SQuAD v2 abstention, calibration, the report) and
the comparison of a sweep's jobs. Imports `scoring`, `runs` and the layers below."""
