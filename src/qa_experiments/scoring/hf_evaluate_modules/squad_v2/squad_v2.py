"""SQuAD v2.0 metric as an offline Hugging Face ``evaluate`` module.

Same input format as the Hub's ``squad_v2`` metric; the scoring itself lives in
``qa_experiments.scoring.squad_metric`` (which must be importable). Load it with
``qa_experiments.scoring.hf_evaluate.load_squad_metric(version_2_with_negative=True)``.
"""

import datasets
import evaluate

from qa_experiments.scoring.squad_metric import score_squad_v2

_CITATION = """\
@inproceedings{rajpurkar-etal-2018-know,
    title = "Know What You Don{'}t Know: Unanswerable Questions for {SQ}u{AD}",
    author = "Rajpurkar, Pranav and Jia, Robin and Liang, Percy",
    booktitle = "Proceedings of the 56th Annual Meeting of the Association for
                 Computational Linguistics (Volume 2: Short Papers)",
    year = "2018",
    publisher = "Association for Computational Linguistics",
    pages = "784--789",
    url = "https://aclanthology.org/P18-2124",
}
"""

_DESCRIPTION = """\
Scoring of the Stanford Question Answering Dataset (SQuAD) v2.0, which adds
unanswerable questions to SQuAD v1.1: a question with no gold answer is scored
against the empty string, so the empty prediction is correct for it. Answers
are normalised (lower-cased, punctuation and the articles a/an/the removed,
whitespace collapsed); each question scores the best exact match and the best
token-overlap F1 over its gold answers, averaged over all reference questions
and separately over the answerable (HasAns) and unanswerable (NoAns) ones.
Re-implements the official evaluate-v2.0.py algorithm (without the
no-answer-probability threshold search) in qa_experiments.scoring.squad_metric; runs offline.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of dicts, one per question:
        - 'id': question id (str),
        - 'prediction_text': the predicted answer (str, empty for "no answer"),
        - 'no_answer_probability': float; validated but not used in the scores.
    references: list of dicts, one per question:
        - 'id': question id (str),
        - 'answers': {'text': list of gold answer texts (empty if unanswerable),
                      'answer_start': list of ints}.
Returns:
    'exact_match', 'f1': percent over all questions; 'total': number of questions;
    'HasAns_exact_match', 'HasAns_f1', 'HasAns_total': the same over answerable questions;
    'NoAns_exact_match', 'NoAns_f1', 'NoAns_total': the same over unanswerable questions.
    A group's keys are left out when it has no questions.
Examples:
    >>> squad_v2 = load_squad_metric(version_2_with_negative=True)
    >>> predictions = [{"id": "q1", "prediction_text": "", "no_answer_probability": 0.9}]
    >>> references = [{"id": "q1", "answers": {"text": [], "answer_start": []}}]
    >>> result = squad_v2.compute(predictions=predictions, references=references)
    >>> result["exact_match"], result["f1"], result["total"], result["NoAns_total"]
    (100.0, 100.0, 1, 1)
    >>> "HasAns_total" in result  # no answerable questions in this example
    False
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SquadV2(evaluate.Metric):
    """SQuAD v2.0 exact match and F1 (percent), with HasAns / NoAns breakdown."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": {
                        "id": datasets.Value("string"),
                        "prediction_text": datasets.Value("string"),
                        "no_answer_probability": datasets.Value("float32"),
                    },
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": datasets.Sequence(
                            {
                                "text": datasets.Value("string"),
                                "answer_start": datasets.Value("int32"),
                            }
                        ),
                    },
                }
            ),
            codebase_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
            reference_urls=[
                "https://rajpurkar.github.io/SQuAD-explorer/",
                "https://aclanthology.org/P18-2124",
            ],
        )

    def _compute(self, predictions, references):
        preds = {p["id"]: p["prediction_text"] for p in predictions}
        refs = {r["id"]: list(r["answers"]["text"]) for r in references}
        return score_squad_v2(preds, refs)
