"""Answer questions with a trained model: `python -m qa_experiments.predict RUN_DIR ...`.

    RUN_DIR --question Q --context C          the answer text, alone on the first line
    RUN_DIR --question Q --context C --json   {"answer", "score", "start", "end"}
    RUN_DIR --data FILE [--out PATH]          id -> answer JSON for a whole SQuAD file

RUN_DIR is a training run directory (model/ and config.json) or a checkpoint directory.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TextIO

from qa_experiments.cli import positive_int, run_command

PROG = "qa-predict"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Answer questions with a trained extractive QA model."
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory (model/, config.json) or a checkpoint directory")
    parser.add_argument("--question", "-q", help="the question (with --context)")
    parser.add_argument("--context", "-c", help="the passage holding the answer")
    parser.add_argument("--json", action="store_true",
                        help="print {answer, score, start, end} as JSON")
    parser.add_argument("--data", type=Path, metavar="FILE",
                        help="answer every question of a SQuAD file (nested or flat)")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="where --data writes id -> answer JSON "
                             "(default: RUN_DIR/predictions_<data file stem>.json)")
    parser.add_argument("--max-samples", type=positive_int, metavar="N",
                        help="with --data: only the first N usable questions")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help="windows per forward pass (default: the run's eval batch size)")
    args = parser.parse_args(argv)
    single = args.question is not None or args.context is not None
    if args.data is None and (args.question is None or args.context is None):
        parser.error("give --question and --context, or --data FILE")
    if args.data is not None and single:
        parser.error("--data cannot be combined with --question/--context")
    return args


def _print_answer(prediction, as_json: bool, out: TextIO) -> None:
    if not as_json:
        print(prediction.text, file=out)
        return
    score = prediction.score if math.isfinite(prediction.score) else None
    print(json.dumps({"answer": prediction.text, "score": score,
                      "start": prediction.start_char, "end": prediction.end_char},
                     ensure_ascii=False), file=out)


def _predict_data(run, args: argparse.Namespace, out: TextIO) -> int:
    from qa_experiments.inference import data_file_stem, predict_file, write_output

    _, predictions = predict_file(run, args.data, max_samples=args.max_samples,
                                  batch_size=args.batch_size, progress=True)
    path = args.out or args.run_dir / f"predictions_{data_file_stem(args.data)}.json"
    if not write_output(PROG, path, predictions):
        return 1
    print(f"Wrote {len(predictions)} predictions to {path}", file=out)
    return 0


def _quiet_progress_bars() -> None:
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from qa_experiments.inference import answer, load_run
    from qa_experiments.squad_files import check_readable

    if args.data is not None:
        check_readable(args.data)  # before the model is loaded
    else:
        _quiet_progress_bars()  # one question: just the answer
    run = load_run(args.run_dir)
    if args.data is not None:
        return _predict_data(run, args, out)
    _print_answer(answer(run, args.question, args.context), args.json, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; 2 for a bad run directory or data, 1 when the output cannot be written."""
    return run_command(PROG, _parse_args, _run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
