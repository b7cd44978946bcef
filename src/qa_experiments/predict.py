"""Answer questions with a trained model: `python -m qa_experiments.predict RUN_DIR ...`.

    RUN_DIR --question Q --context C          the answer text, alone on the first line
    RUN_DIR --question Q --context C --json   {"answer", "score", "start", "end", "probability",
                                               "confidence"}
    RUN_DIR -q Q -c C --top-k N               also the N most probable answers
    RUN_DIR -q Q -c C --min-confidence P      no answer ("") when the confidence is below P
    RUN_DIR --data FILE [--out PATH]          id -> answer JSON for a whole SQuAD file

RUN_DIR is a training run directory (model/ and config.json) or a checkpoint directory.
probability: the answer's share of the question's softmax over its candidate answers (the
no-answer one included for SQuAD v2); confidence: that probability calibrated to P(exact
match) by the calibration stored with the model (model/calibration.json), null without one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TextIO

from qa_experiments.cli.arguments import (
    ArgumentParser,
    add_run_dir_argument,
    add_scoring_arguments,
    check_output_path,
    output_home,
    positive_int,
    run_model_command,
    text,
    write_output,
)

PROG = "qa-predict"


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability in [0, 1]")
    return value


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog=PROG, description="Answer questions with a trained extractive QA model."
    )
    add_run_dir_argument(parser)
    parser.add_argument("--question", "-q", type=text, help="the question (with --context)")
    parser.add_argument("--context", "-c", type=text, help="the passage holding the answer")
    parser.add_argument("--json", action="store_true",
                        help="print {answer, score, start, end, probability, confidence} as JSON")
    parser.add_argument("--top-k", type=positive_int, metavar="N",
                        help="also give the N most probable answers (with probabilities)")
    parser.add_argument("--min-confidence", type=_probability, metavar="P",
                        help="answer nothing when the calibrated confidence is below P "
                             "(needs the calibration stored by a finished run)")
    parser.add_argument("--data", type=Path, metavar="FILE",
                        help="answer every question of a SQuAD file (nested or flat)")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="where --data writes id -> answer JSON "
                             "(default: RUN_DIR/predictions_<data file stem>.json)")
    add_scoring_arguments(parser, max_samples_note="with --data: ")
    args = parser.parse_args(argv)
    single = args.question is not None or args.context is not None
    if args.data is None and (args.question is None or args.context is None):
        parser.error("give --question and --context, or --data FILE")
    if args.data is not None and single:
        parser.error("--data cannot be combined with --question/--context")
    if args.data is not None and args.top_k is not None:
        parser.error("--top-k answers one question (--question/--context); a run's "
                     "nbest_predictions.json holds the alternatives for its eval file")
    if args.data is not None and args.json:
        parser.error("--json prints one question's answer (--question/--context); --data "
                     "writes its answers as JSON to --out")
    for option, value in (("--out", args.out), ("--max-samples", args.max_samples)):
        if value is not None and args.data is None:
            parser.error(f"{option} goes with --data FILE; one question's answer is printed")
    return args


def _answer_json(prediction, confidence: float | None, abstained: bool, top_k: int | None
                 ) -> dict:
    score = prediction.score if math.isfinite(prediction.score) else None
    result = {"answer": prediction.text, "score": score, "start": prediction.start_char,
              "end": prediction.end_char, "probability": prediction.probability,
              "confidence": confidence}
    if abstained:
        result.update(answer="", start=-1, end=-1, abstained=True)
    if prediction.no_answer_probability is not None:
        result["no_answer_probability"] = prediction.no_answer_probability
    if top_k:
        result["alternatives"] = [
            {"answer": c.text, "probability": c.probability, "start": c.start_char,
             "end": c.end_char, "score": c.score} for c in prediction.candidates]
    return result


def withheld(text: str, confidence: float | None, min_confidence: float | None) -> bool:
    """Whether --min-confidence replaces the answer `text` with "": an answer (not the model's
    own "no answer") whose confidence is below `min_confidence`."""
    return (bool(text) and min_confidence is not None and confidence is not None
            and confidence < min_confidence)


def _print_answer(prediction, confidence: float | None, args: argparse.Namespace,
                  out: TextIO) -> None:
    abstained = withheld(prediction.text, confidence, args.min_confidence)
    if abstained:
        print(f"{PROG}: no answer: confidence {confidence:.3f} is below --min-confidence "
              f"{args.min_confidence} (the model's answer was {prediction.text!r})",
              file=sys.stderr)
    if args.json:
        print(json.dumps(_answer_json(prediction, confidence, abstained, args.top_k),
                         ensure_ascii=False), file=out)
        return
    print("" if abstained else prediction.text, file=out)
    for candidate in prediction.candidates if args.top_k else []:
        print(f"{candidate.probability:.4f}\t{candidate.text or '(no answer)'}", file=out)


def _predict_data(run, args: argparse.Namespace, out: TextIO) -> int:
    from qa_experiments.inference.predictor import confidence, predict_file

    examples, answers = predict_file(run, args.data, max_samples=args.max_samples,
                                     batch_size=args.batch_size, progress=True)
    predictions, abstained = {}, 0
    for qid, prediction in zip(examples["id"], answers):
        low = withheld(prediction.text, confidence(run, prediction), args.min_confidence)
        abstained += low
        predictions[qid] = "" if low else prediction.text
    path = _data_output(args)
    if not write_output(PROG, path, predictions):
        return 1
    note = f" ({abstained} answered with \"\": confidence below {args.min_confidence})" \
        if args.min_confidence is not None else ""
    print(f"Wrote {len(predictions)} predictions to {path}{note}", file=out)
    return 0


def _data_output(args: argparse.Namespace) -> Path:
    """Where --data writes its answers: --out, else RUN_DIR/predictions_<data file stem>.json."""
    from qa_experiments.inference.predictor import data_file_stem

    return args.out or output_home(args.run_dir) / f"predictions_{data_file_stem(args.data)}.json"


def _quiet_progress_bars() -> None:
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from qa_experiments.data.squad_files import check_readable
    from qa_experiments.inference.predictor import (
        RunLoadError,
        answer,
        calibration_path,
        confidence,
        load_run,
    )

    if args.min_confidence is not None and not calibration_path(args.run_dir).is_file():
        raise RunLoadError(
            f"--min-confidence needs a calibration, but {str(calibration_path(args.run_dir))!r} "
            "does not exist (a finished run writes it; checkpoints have none).")
    if args.data is not None:
        check_readable(args.data)  # before the model is loaded
        check_output_path(_data_output(args))
    else:
        _quiet_progress_bars()  # one question: just the answer
    run = load_run(args.run_dir, null_threshold=args.null_threshold)
    if args.min_confidence is not None and run.calibration is None:
        raise RunLoadError(f"--min-confidence needs a calibration, but the one stored with "
                           f"{str(run.model_dir)!r} has none (too few eval questions to fit).")
    if args.data is not None:
        return _predict_data(run, args, out)
    prediction = answer(run, args.question, args.context, candidates=args.top_k or 0)
    _print_answer(prediction, confidence(run, prediction), args, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; 2 for a bad run directory or data, 1 when the output cannot be written."""
    return run_model_command(PROG, _parse_args, _run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
