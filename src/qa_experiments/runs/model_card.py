"""The model card a finished run writes into `model/README.md`, in the Hugging Face format.

Its YAML metadata (huggingface_hub's `ModelCardData`) holds the `model-index` with the SQuAD
exact match and F1 (for SQuAD v2 also HasAns/NoAns and the tuned no-answer threshold), the
dataset, the base model and the license; the text says how the model was trained, how well
its confidence is calibrated, what it is for and what it is not, and where the data comes from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from qa_experiments.escaping import markdown_code, markdown_text
from qa_experiments.runs.atomic import write_text

CARD = "README.md"  # in the model directory
HUB_DATASETS = {False: "rajpurkar/squad", True: "rajpurkar/squad_v2"}
V2_METRICS = ("HasAns_exact_match", "HasAns_f1", "NoAns_exact_match", "NoAns_f1")


def model_card(config: dict[str, Any], results: dict[str, Any], name: str) -> ModelCard:
    """The card of a model trained with `config` that scored `results`."""
    data, model = config["data"], config["model"]
    version_2 = bool(data.get("version_2_with_negative"))
    dataset = data.get("dataset_name") or HUB_DATASETS[version_2]
    metrics = [("exact_match", "Exact match", results["exact_match"]), ("f1", "F1", results["f1"])]
    if version_2:
        metrics += [(key, key.replace("_", " "), results[key]) for key in V2_METRICS
                    if isinstance(results.get(key), (int, float))]
    card_data = ModelCardData(
        model_name=name, language="en", license="other", library_name="transformers",
        pipeline_tag="question-answering", tags=["extractive-qa", "qa-experiments"],
        datasets=[dataset], base_model=_base_model(model),
        metrics=["squad_v2" if version_2 else "squad"],
        eval_results=[EvalResult(task_type="question-answering", dataset_type=dataset,
                                 dataset_name="SQuAD v2.0" if version_2 else "SQuAD v1.1",
                                 dataset_split=data.get("eval_split") or "validation",
                                 metric_type=key, metric_name=label,
                                 metric_value=round(float(value), 2))
                      for key, label, value in metrics])
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n{_body(config, results, name)}")


def write_model_card(model_dir: Path, config: dict[str, Any], results: dict[str, Any],
                     name: str) -> Path:
    """Write the card as `model_dir/README.md`."""
    return write_text(Path(model_dir) / CARD, str(model_card(config, results, name)))


def _base_model(model: dict[str, Any]) -> str | None:
    """The base model's Hub name; None for a local directory (not a Hub id)."""
    name = str(model.get("name_or_path") or "")
    return name if name and not Path(name).is_absolute() and name.count("/") <= 1 else None


def _base_text(model: dict[str, Any]) -> str:
    hub_id = _base_model(model)
    return f"`{hub_id}`" if hub_id else f"`{model.get('name')}` (a local model directory)"


def _distillation_lines(record: Any) -> list[str]:
    """The Training list's line on the teacher of a distilled model (none otherwise)."""
    if not isinstance(record, dict):
        return []
    return [f"- distilled ({markdown_text(record.get('method'))}: the teacher's start/end "
            f"logits, temperature {record.get('temperature')}, soft-loss weight "
            f"{record.get('alpha')}) from the teacher {markdown_code(record.get('teacher'))}, "
            f"dev F1 {_number(record.get('teacher_f1'))}"]


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "n/a"


def _tuning_line(model: dict[str, Any], results: dict[str, Any]) -> str:
    """Full fine-tuning or LoRA, with the share of the weights trained."""
    share = results.get("trainable_share")
    shown = f"{share:.2%} of the weights trained" if isinstance(share, (int, float)) else ""
    lora = model.get("lora") or {}
    if lora.get("enabled"):
        return (f"- LoRA (rank {lora.get('rank')}, alpha {lora.get('alpha')}, dropout "
                f"{lora.get('dropout')}) and the full QA head: {shown}; the adapters are merged "
                "into these weights")
    return f"- full fine-tuning: {shown or 'every weight trained'}"


def _body(config: dict[str, Any], results: dict[str, Any], name: str) -> str:
    data, trainer, optimizer = config["data"], config["trainer"], config["optimizer"]
    version_2 = bool(data.get("version_2_with_negative"))
    lines = [
        f"# {name}",
        "",
        f"An extractive question-answering model: given a question and a passage, it returns "
        f"the span of the passage that answers it{', or no answer' if version_2 else ''}. "
        f"Fine-tuned from {_base_text(config['model'])} with qa-experiments.",
        "",
        "## Results",
        "",
        f"On {results['eval_examples']} questions of the evaluation data, scored with the "
        f"official SQuAD {'v2.0' if version_2 else 'v1.1'} rules: exact match "
        f"**{results['exact_match']:.2f}**, F1 **{results['f1']:.2f}**.",
    ]
    threshold = results.get("no_answer_threshold") or {}
    if version_2 and isinstance(threshold.get("threshold_used"), (int, float)):
        lines += ["", f"No-answer threshold used: {threshold['threshold_used']:.4f} (tuned on "
                      "the evaluation questions; stored in `calibration.json`)."]
    calibration = results.get("calibration") or {}
    lines += ["", "## Confidence", ""]
    if isinstance(calibration.get("ece_after"), (int, float)):
        lines.append(
            f"The answer's probability is calibrated to P(exact match) by Platt scaling, "
            f"stored in `calibration.json`: expected calibration error "
            f"{calibration['ece_before']:.4f} before and {calibration['ece_after']:.4f} after "
            f"({calibration.get('folds')}-fold cross-validated on {calibration.get('questions')} "
            f"questions; Brier score {calibration['brier_before']:.4f} -> "
            f"{calibration['brier_after']:.4f}).")
    else:
        lines.append("No calibration was fitted (too few evaluation questions): the answer's "
                     "probability is the model's own, not a calibrated confidence.")
    lines += [
        "", "## Training", "",
        f"- data: {data.get('dataset_name') or Path(str(data.get('train_file'))).name}, "
        f"{results['train_examples']} questions ({results['train_features']} windows of "
        f"{data.get('max_seq_length')} tokens, stride {data.get('doc_stride')})",
        f"- {trainer.get('num_train_epochs')} epoch(s), {results.get('train_steps')} steps, "
        f"batch {trainer.get('per_device_train_batch_size')}, learning rate {optimizer.get('lr')} "
        f"({optimizer.get('name')}, warmup {optimizer.get('warmup')}, "
        f"{optimizer.get('scheduler')} schedule), seed {config.get('seed')}",
        f"- device {results.get('device')}, training loss {_number(results.get('train_loss'))}",
        _tuning_line(config["model"], results),
        *_distillation_lines(results.get("distillation")),
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForQuestionAnswering, AutoTokenizer",
        "",
        'model = AutoModelForQuestionAnswering.from_pretrained("PATH_OR_REPO")',
        'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
        "```",
        "",
        "or, with the run's own decoding, calibration and threshold, "
        "`qa_experiments.inference.answerer.QuestionAnswerer.load(RUN_DIR)`.",
        "",
        "## Intended use and limits",
        "",
        "For finding the answer to a factual question in a passage of English text, as in "
        "SQuAD (Wikipedia paragraphs). It only extracts: it cannot answer from knowledge "
        "outside the passage, combine facts across passages, or say that a question is "
        "unanswerable" + (" beyond what SQuAD v2's unanswerable questions taught it" if version_2
                          else " (a SQuAD v1.1 model always returns a span)") + ". Its scores "
        "hold for text like its evaluation data; measure it on your own data before relying "
        "on it. Treat a low confidence as a reason to check the answer.",
        "",
        "## Data and license",
        "",
        "SQuAD (Rajpurkar et al., 2016 and 2018) is licensed CC BY-SA 4.0; its passages come "
        "from Wikipedia. The model's license is `other`: the base model's license applies, "
        "with the attribution of the training data above.",
    ]
    return "\n".join(lines) + "\n"
