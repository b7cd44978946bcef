"""`qa-compare SWEEP_DIR [SWEEP_DIR ...] [--out DIR]`: compare the jobs of Hydra sweeps.

Prints the jobs best first and writes comparison.md/.csv/.png (and the slice view when jobs
have question records) into --out, by default the first sweep directory. The work is done by
`analysis.comparison` and `analysis.slice_comparison`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa_experiments.analysis import comparison, slice_comparison
from qa_experiments.cli.arguments import (
    ArgumentParser,
    check_not_held,
    check_output_dir,
    writing,
)
from qa_experiments.cli.errors import run_command
from qa_experiments.errors import MissingFileError, UserError
from qa_experiments.runs.layout import find_job_dirs

PROG = "qa-compare"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog=PROG,
        description="Compare the jobs of Hydra multirun sweeps: table, CSV and F1 chart.",
    )
    parser.add_argument("sweep_dirs", nargs="+", type=Path, metavar="SWEEP_DIR",
                        help="a multirun/<date>/<time> directory")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write the reports (default: the first SWEEP_DIR)")
    return parser.parse_args(argv)


def check_sweep_dirs(sweep_dirs: list[Path]) -> None:
    """A UserError for a path that is not a directory or holds no job."""
    for sweep_dir in sweep_dirs:
        if not sweep_dir.is_dir():
            raise MissingFileError(f"not a directory: {sweep_dir}")
        if not find_job_dirs(sweep_dir):
            raise UserError(f"no jobs in {sweep_dir} (no subdirectory with .hydra/ or "
                            "status.json)")


def compare(args: argparse.Namespace) -> int:
    """Print the comparison table and write the reports."""
    check_sweep_dirs(args.sweep_dirs)
    out_dir = args.out or args.sweep_dirs[0]
    if args.out is not None:
        check_output_dir(args.out)
    else:
        check_not_held(out_dir, "the reports' directory")
    rows = comparison.collect_jobs(args.sweep_dirs)
    print(comparison.format_table(rows))
    print()
    print(comparison.summary_line(rows))
    slices = slice_comparison.collect_job_slices(args.sweep_dirs, rows)
    if slice_comparison.has_slices(slices):
        print()
        print(slice_comparison.format_question_types(slices))
    with writing(out_dir):  # no job took the directory while this ran
        written = (comparison.write_reports(rows, out_dir)
                   + slice_comparison.write_slice_view(slices, out_dir))
    print("Wrote " + ", ".join(str(path) for path in written))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point; exit 2 with one line for a bad or empty directory."""
    return run_command(PROG, lambda: compare(_parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
