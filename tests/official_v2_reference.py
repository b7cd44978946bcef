"""An independent implementation of the official SQuAD v2.0 script's algorithm (evaluate-v2.0.py,
its functions written as plain loops): the oracle the no-answer threshold tests compare with."""

from __future__ import annotations

import collections
import re
import string


def official_normalize(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", s)
    return " ".join(s.split())


def official_f1(a_gold, a_pred):
    gold_toks = official_normalize(a_gold).split() if a_gold else []
    pred_toks = official_normalize(a_pred).split() if a_pred else []
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision, recall = num_same / len(pred_toks), num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def official_raw_scores(golds_by_qid, preds):
    exact, f1 = {}, {}
    for qid, golds in golds_by_qid.items():
        gold_answers = [a for a in golds if official_normalize(a)] or [""]
        if qid not in preds:
            continue
        exact[qid] = max(int(official_normalize(a) == official_normalize(preds[qid]))
                         for a in gold_answers)
        f1[qid] = max(official_f1(a, preds[qid]) for a in gold_answers)
    return exact, f1


def official_find_best_thresh(preds, scores, na_probs, qid_to_has_ans):
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for qid in qid_list:
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1 if preds[qid] else 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def official_figures(golds_by_qid, preds, na_probs):
    has_ans = {qid: bool(golds) for qid, golds in golds_by_qid.items()}
    exact, f1 = official_raw_scores(golds_by_qid, preds)
    best_exact, exact_thresh = official_find_best_thresh(preds, exact, na_probs, has_ans)
    best_f1, f1_thresh = official_find_best_thresh(preds, f1, na_probs, has_ans)
    return {"best_exact": best_exact, "best_exact_thresh": exact_thresh,
            "best_f1": best_f1, "best_f1_thresh": f1_thresh}
