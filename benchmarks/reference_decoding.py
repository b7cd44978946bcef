"""The reference decoding algorithm as plain loops (as in Transformers' utils_qa.py): the oracle
tests/unit/scoring/test_decoding.py checks the fast version against, and the baseline
benchmarks/postprocess.py times it against."""

from __future__ import annotations

import numpy as np


def loop_reference(start, end, offsets, cls_index, example_index, contexts, *, n_best, max_len,
                   v2, threshold):
    """The reference algorithm, written as plain loops (as in Transformers' utils_qa.py)."""
    answers = []
    for ex, context in enumerate(contexts):
        candidates, null = [], None
        for f in np.flatnonzero(example_index == ex):
            cls = cls_index[f]
            feature_null = start[f, cls] + end[f, cls]
            null = feature_null if null is None or feature_null < null else null
            starts = np.argsort(start[f])[-1 : -n_best - 1 : -1]
            ends = np.argsort(end[f])[-1 : -n_best - 1 : -1]
            for s in starts:
                for e in ends:
                    if offsets[f, s, 0] < 0 or offsets[f, e, 0] < 0:
                        continue
                    if e < s or e - s + 1 > max_len:
                        continue
                    candidates.append(
                        (start[f, s] + end[f, e], context[offsets[f, s, 0] : offsets[f, e, 1]])
                    )
        best = max(candidates, key=lambda c: c[0]) if candidates else None
        if v2 and (best is None or null - best[0] > threshold):
            answers.append("")
        else:
            answers.append(best[1] if best else "")
    return answers
