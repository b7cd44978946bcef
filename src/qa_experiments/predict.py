"""Answer questions with a trained model: `python -m qa_experiments.predict RUN_DIR ...`.

    RUN_DIR --question Q --context C          the answer text, alone on the first line
    RUN_DIR --question Q --context C --json   {"answer", "score", "start", "end", "probability",
                                               "confidence"}
    RUN_DIR -q Q -c C --top-k N               also the N most probable answers
    RUN_DIR -q Q -c C --min-confidence P      no answer ("") when the confidence is below P
    RUN_DIR -c C --interactive                the model loaded once; each stdin line a question
                                              (a line that is not text: reported, skipped)
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
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from qa_experiments.cli.arguments import (
    ArgumentParser,
    add_run_dir_argument,
    add_scoring_arguments,
    check_output_path,
    output_home,
    positive_int,
    run_model_command,
    text,
    writing,
)
from qa_experiments.cli.errors import report_skipped
from qa_experiments.errors import UserError
from qa_experiments.runs.atomic import write_json

PROG = "qa-predict"
PROMPT = "question> "  # on stderr, when standard input is a terminal


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
    parser.add_argument("--interactive", "-i", action="store_true",
                        help="with --context: load the model once, then answer each line of "
                             "standard input as a question about it")
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
    for option, value in (("--question", args.question), ("--context", args.context)):
        if value is not None and not value.strip():
            parser.error(f"{option} is empty; give the text to read")
    if args.interactive and (args.context is None or args.question is not None):
        parser.error("--interactive takes --context and reads the questions from standard input")
    if args.data is None and not args.interactive and (
            args.question is None or args.context is None):
        parser.error("give --question and --context, --context with --interactive, "
                     "or --data FILE")
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


def _answer_json(answer, top_k: int | None) -> dict:
    result = {"answer": answer.text, "score": answer.score, "start": answer.start,
              "end": answer.end, "probability": answer.probability,
              "confidence": answer.confidence}
    if answer.abstained:
        result["abstained"] = True
    if answer.no_answer_probability is not None:
        result["no_answer_probability"] = answer.no_answer_probability
    if top_k:
        result["alternatives"] = [
            {"answer": a.text, "probability": a.probability, "start": a.start, "end": a.end,
             "score": a.score} for a in answer.alternatives]
    return result


def _print_answer(answer, args: argparse.Namespace, out: TextIO) -> None:
    if answer.abstained:
        print(f"{PROG}: no answer: confidence {answer.confidence:.3f} is below "
              f"--min-confidence {args.min_confidence} (the model's answer was "
              f"{answer.model_answer!r})", file=sys.stderr)
    if args.json:
        print(json.dumps(_answer_json(answer, args.top_k), ensure_ascii=False), file=out)
        return
    print(answer.text, file=out)
    for alternative in answer.alternatives:
        print(f"{alternative.probability:.4f}\t{alternative.text or '(no answer)'}", file=out)


def _answer_questions(run, args: argparse.Namespace, out: TextIO) -> int:
    """One question (--question), or with --interactive every line of standard input as a
    question about --context, the model loaded once; a line that cannot be answered is
    reported on stderr and the next one read (exit status 2 at the end if there was one)."""
    from qa_experiments.inference.answerer import QuestionAnswerer

    with QuestionAnswerer(run) as answerer:
        def answer(question: str) -> None:
            _print_answer(answerer.answer(question, args.context, top_k=args.top_k or 0,
                                          min_confidence=args.min_confidence), args, out)
            out.flush()

        if not args.interactive:
            answer(args.question)
            return 0
        refused = 0
        for number, line in _input_lines(sys.stdin.buffer, prompt=sys.stdin.isatty()):
            try:
                question = _question(line, sys.stdin.encoding or "utf-8")
                if question:
                    answer(question)
            except UserError as error:
                report_skipped(PROG, f"line {number} of standard input", error)
                refused += 1
    return 2 if refused else 0


class InputLineError(UserError, ValueError):
    """A line of standard input that is not text in its encoding."""


def _input_lines(stream: BinaryIO, *, prompt: bool) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each line of `stream`, with PROMPT on stderr before each read
    when `prompt`."""
    number = 0
    while True:
        if prompt:
            print(PROMPT, end="", file=sys.stderr, flush=True)
        line = stream.readline()
        if not line:
            if prompt:
                print(file=sys.stderr)  # end the prompt's line at end of input
            return
        number += 1
        yield number, line


def _question(line: bytes, encoding: str) -> str:
    """The question on a line of standard input, stripped ("" for a blank line)."""
    try:
        return line.decode(encoding).strip()
    except UnicodeDecodeError as error:
        raise InputLineError(f"not {encoding} text (byte {error.start + 1})") from error


def _predict_data(run, args: argparse.Namespace, out: TextIO, read) -> int:
    from qa_experiments.inference.answerer import withheld
    from qa_experiments.inference.predictor import confidence, predict_file

    examples, answers = predict_file(run, args.data, max_samples=args.max_samples,
                                     batch_size=args.batch_size, progress=True, examples=read)
    predictions, abstained = {}, 0
    for qid, prediction in zip(examples["id"], answers):
        low = withheld(prediction.text, confidence(run, prediction), args.min_confidence)
        abstained += low
        predictions[qid] = "" if low else prediction.text
    path = _data_output(args)
    with writing(path):  # no job took the directory while this ran
        write_json(path, predictions)
    note = f" ({abstained} answered with \"\": confidence below {args.min_confidence})" \
        if args.min_confidence is not None else ""
    print(f"Wrote {len(predictions)} predictions to {path}{note}", file=out)
    return 0


def _data_output(args: argparse.Namespace) -> Path:
    """Where --data writes its answers: --out, else RUN_DIR/predictions_<data file stem>.json."""
    from qa_experiments.inference.predictor import data_file_stem

    return args.out or output_home(args.run_dir) / f"predictions_{data_file_stem(args.data)}.json"


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from qa_experiments.data.squad_files import check_readable
    from qa_experiments.inference.predictor import (
        RunLoadError,
        calibration_path,
        load_examples,
        load_run,
    )

    if args.min_confidence is not None and not calibration_path(args.run_dir).is_file():
        raise RunLoadError(
            f"--min-confidence needs a calibration, but {str(calibration_path(args.run_dir))!r} "
            "does not exist (a finished run writes it; checkpoints have none).")
    # Every input before the model is loaded: the data file (readable, then its records, read
    # with the run's settings once the run is checked) and the output path.
    examples = []

    def read_examples(data_cfg) -> None:
        examples.append(load_examples(data_cfg, args.data, max_samples=args.max_samples,
                                      require_answers=False))

    if args.data is not None:
        check_readable(args.data)
        check_output_path(_data_output(args))
    run = load_run(args.run_dir, null_threshold=args.null_threshold,
                   check_inputs=read_examples if args.data is not None else None)
    if args.min_confidence is not None and run.calibration is None:
        raise RunLoadError(f"--min-confidence needs a calibration, but the one stored with "
                           f"{str(run.model_dir)!r} has none (too few eval questions to fit).")
    if args.data is not None:
        return _predict_data(run, args, out, examples[0])
    return _answer_questions(run, args, out)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; 2 for a bad run directory or data, 1 when the output cannot be written."""
    return run_model_command(PROG, _parse_args, _run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
