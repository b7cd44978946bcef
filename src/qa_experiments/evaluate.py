"""Score a trained model on a SQuAD file: `python -m qa_experiments.evaluate RUN_DIR --data FILE`.

Prints EM/F1 (and the HasAns/NoAns breakdown for SQuAD v2 runs), the cross-validated
calibration and no-answer threshold figures (`scoring.tuning`; SQuAD v2 also the official
best_exact/best_f1) and writes them as JSON, by
default to RUN_DIR/eval_<data file stem>.json. The scores come from the code that scores a
run after training, so the run's own eval file (and max_eval_samples) reproduces results.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from qa_experiments.cli.arguments import (
    ArgumentParser,
    add_run_dir_argument,
    add_scoring_arguments,
    check_output_path,
    output_home,
    run_model_command,
    writing,
)
from qa_experiments.runs.atomic import write_json
from qa_experiments.runs.summary import tuning_lines

PROG = "qa-evaluate"
BREAKDOWN = ("HasAns", "NoAns")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog=PROG, description="Exact match and F1 of a trained QA model on a SQuAD file."
    )
    add_run_dir_argument(parser)
    parser.add_argument("--data", type=Path, metavar="FILE", required=True,
                        help="SQuAD data with answers (nested official JSON or flat records)")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="metrics JSON (default: RUN_DIR/eval_<data file stem>.json)")
    add_scoring_arguments(parser)
    return parser.parse_args(argv)


def format_metrics(results: dict[str, Any]) -> str:
    """The headline scores, plus one line per v2 group when present."""
    lines = [
        f"exact_match={results['exact_match']:.2f} f1={results['f1']:.2f} "
        f"({results['eval_examples']} questions, {results['eval_features']} windows)"
    ]
    for group in BREAKDOWN:
        if f"{group}_total" in results:
            lines.append(
                f"  {group}: exact_match={results[f'{group}_exact_match']:.2f} "
                f"f1={results[f'{group}_f1']:.2f} ({results[f'{group}_total']} questions)"
            )
    lines += tuning_lines(results)
    return "\n".join(lines)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from qa_experiments.data.squad_files import check_readable
    from qa_experiments.inference.predictor import (
        data_file_stem,
        evaluate_file,
        load_examples,
        load_run,
    )
    from qa_experiments.scoring.question_records import write_question_records

    # Every input before the model is loaded: the data file (readable, then its records, read
    # with the run's settings once the run is checked) and the output paths.
    check_readable(args.data)
    path = args.out or output_home(args.run_dir) / f"eval_{data_file_stem(args.data)}.json"
    questions_path = questions_file(path)
    check_output_path(path)
    check_output_path(questions_path, "--out's question records")
    examples = []

    def read_examples(data_cfg) -> None:
        examples.append(load_examples(data_cfg, args.data, max_samples=args.max_samples))

    run = load_run(args.run_dir, null_threshold=args.null_threshold, check_inputs=read_examples)
    results, records = evaluate_file(run, args.data, max_samples=args.max_samples,
                                     batch_size=args.batch_size, progress=True,
                                     examples=examples[0])
    with writing(path, questions_path):  # no job took the directory while this ran
        print(format_metrics(results), file=out)
        write_json(path, results)
        write_question_records(questions_path, records)
    print(f"Wrote {path} and {questions_path.name}", file=out)
    return 0


def questions_file(metrics_path: Path) -> Path:
    """Where the per-question records go: beside the metrics, `<stem>_questions.jsonl`."""
    return metrics_path.with_name(f"{metrics_path.stem}_questions.jsonl")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; 2 for a bad run directory or data, 1 when the output cannot be written."""
    return run_model_command(PROG, _parse_args, _run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
