"""SQuAD v1.1 metric as an offline Hugging Face ``evaluate`` module.

Same input format as the Hub's ``squad`` metric; the scoring itself lives in
``qa_experiments.scoring.squad_metric`` (which must be importable). Load it with
``qa_experiments.scoring.hf_evaluate.load_squad_metric(version_2_with_negative=False)``.
"""

import datasets
import evaluate

from qa_experiments.scoring.squad_metric import score_squad

_CITATION = """\
@inproceedings{rajpurkar-etal-2016-squad,
    title = "{SQ}u{AD}: 100,000+ Questions for Machine Comprehension of Text",
    author = "Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy",
    booktitle = "Proceedings of the 2016 Conference on Empirical Methods in Natural
                 Language Processing",
    year = "2016",
    publisher = "Association for Computational Linguistics",
    pages = "2383--2392",
    url = "https://aclanthology.org/D16-1264",
}
"""

_DESCRIPTION = """\
Scoring of the Stanford Question Answering Dataset (SQuAD) v1.1, a reading
comprehension benchmark whose answers are spans of Wikipedia paragraphs.
Predicted and gold answers are normalised (lower-cased, punctuation and the
articles a/an/the removed, whitespace collapsed); each question scores the
best exact match and the best token-overlap F1 over its gold answers, and the
scores are averaged over the reference questions (a question without a
prediction scores 0). Re-implements the official evaluate-v1.1.py algorithm
in qa_experiments.scoring.squad_metric; runs offline.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of dicts, one per question:
        - 'id': question id (str),
        - 'prediction_text': the predicted answer (str).
    references: list of dicts, one per question:
        - 'id': question id (str),
        - 'answers': {'text': list of gold answer texts, 'answer_start': list of ints}.
Returns:
    'exact_match': percent of questions whose prediction equals a gold answer after normalisation,
    'f1': mean of the best token F1 over gold answers, in percent.
Examples:
    >>> squad = load_squad_metric(version_2_with_negative=False)
    >>> predictions = [{"id": "q1", "prediction_text": "the Eiffel Tower"}]
    >>> references = [{"id": "q1", "answers": {"text": ["Eiffel Tower"], "answer_start": [10]}}]
    >>> squad.compute(predictions=predictions, references=references)
    {'exact_match': 100.0, 'f1': 100.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Squad(evaluate.Metric):
    """SQuAD v1.1 exact match and F1 (percent)."""

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
                "https://aclanthology.org/D16-1264",
            ],
        )

    def _compute(self, predictions, references):
        preds = {p["id"]: p["prediction_text"] for p in predictions}
        refs = {r["id"]: list(r["answers"]["text"]) for r in references}
        return score_squad(preds, refs)
