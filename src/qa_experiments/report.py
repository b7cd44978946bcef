"""Write the error-analysis report of a run: `python -m qa_experiments.report RUN_DIR`.

Reads RUN_DIR/eval_questions.jsonl (and results.json) and writes RUN_DIR/report/report.md with
its PNG charts and slices.json (see qa_experiments/analysis/error_report.py); `--questions FILE`
analyses qa-evaluate's eval_<stem>_questions.jsonl instead. Every training run writes the
same report when it ends.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa_experiments.analysis.report_folder import check_report_folder
from qa_experiments.analysis.run_files import (
    check_finished_run,
    questions_path,
    read_questions,
)
from qa_experiments.cli.arguments import (
    ArgumentParser,
    check_not_held,
    check_output_dir,
    writing,
)
from qa_experiments.cli.errors import run_command
from qa_experiments.runs.layout import REPORT_DIR, report_dir

PROG = "qa-report"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog=PROG,
        description="Error analysis of an evaluated run: EM/F1 by slice, SQuAD v2 abstention, "
                    "reliability diagram, the most confident wrong answers.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory holding eval_questions.jsonl")
    parser.add_argument("--questions", type=Path, metavar="FILE",
                        help="another question file, e.g. qa-evaluate's "
                             "RUN_DIR/eval_<stem>_questions.jsonl (default: "
                             "RUN_DIR/eval_questions.jsonl)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write the report (default: RUN_DIR/report, with "
                             "--questions RUN_DIR/report_<file stem>)")
    return parser.parse_args(argv)


def write(args: argparse.Namespace) -> int:
    """Check the inputs (before the heavy imports), then write the report."""
    source = questions_path(args.run_dir, args.questions)
    if args.questions is None:
        check_finished_run(args.run_dir)
    read_questions(source)
    default = report_dir(args.run_dir, args.questions)
    out = args.out if args.out is not None else default
    what = "--out" if args.out is not None else "the report"
    if args.out is not None:  # also refuses a directory a running job holds
        check_output_dir(args.out.parent, name=args.out.name, owned=(REPORT_DIR,))
        if out.resolve() != default.resolve():  # the run's own report is always redone
            check_report_folder(out)
    else:
        check_not_held(out, what)  # RUN_DIR is held while a job runs there
    from qa_experiments.analysis.error_report import write_report

    with writing(out, what=what):  # no job took the directory while the report was made
        report = write_report(args.run_dir, args.out, args.questions)
    print(f"Wrote {report.markdown} with {len(report.charts)} charts: "
          + ", ".join(path.name for path in report.charts.values()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI: write the report; exit 2 with one line for a bad run directory or question file."""
    return run_command(PROG, lambda: write(_parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
