"""`qa-export RUN_DIR --format onnx [--quantize int8] [--out DIR]`: export a trained model for
fast CPU inference with ONNX Runtime (see inference.onnx_backend).

The export directory (default RUN_DIR/onnx) loads wherever a run does: `qa-predict DIR`,
`qa-evaluate DIR`, `qa-serve DIR`, `QuestionAnswerer.load(DIR)`, with the same windows and
decoding. Needs the `export` extra: pip install 'qa-experiments[export]'.

The export is written into a new hidden folder beside `--out` and renamed into place only when
complete, replacing a previous export there whole; a folder that holds anything else is
refused before the model loads, and a failed export leaves `--out` as it was. The hidden
folder of a killed export is removed by the next export to the same `--out` (runs.staging).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from qa_experiments.cli.arguments import (
    ArgumentParser,
    OutputPathError,
    check_output_dir,
    output_home,
    run_model_command,
    writing,
)
from qa_experiments.data.squad_files import check_readable
from qa_experiments.errors import extra, needs_package
from qa_experiments.runs import staging
from qa_experiments.runs.layout import EXPORT_SETTINGS

PROG = "qa-export"
CALIBRATION_QUESTIONS = 300


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description="Export a trained model for fast CPU "
                            "inference with ONNX Runtime.")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory, a checkpoint or a model directory")
    parser.add_argument("--format", choices=("onnx",), default="onnx")
    parser.add_argument("--quantize", choices=("int8",),
                        help="also write a dynamically quantized int8 model (ONNX Runtime)")
    parser.add_argument("--calibration-data", type=Path, metavar="FILE",
                        help="with --quantize int8: a SQuAD file whose first "
                             f"{CALIBRATION_QUESTIONS} questions set the int8 model's "
                             "activation smoothing (default: the bundled SQuAD train subset)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the export directory (default: RUN_DIR/onnx)")
    args = parser.parse_args(argv)
    if args.calibration_data is not None and args.quantize is None:
        parser.error("--calibration-data goes with --quantize int8")
    return args


def export(args: argparse.Namespace, stdout: TextIO) -> int:
    """Check the source and `--out`, then write the export into place."""
    out = (args.out or output_home(args.run_dir) / "onnx").expanduser()
    if (args.run_dir.expanduser() / EXPORT_SETTINGS).is_file():
        raise OutputPathError(f"{str(args.run_dir)!r} is an ONNX export; export from a run or "
                              "model directory.")
    check_output_dir(out.parent, name=out.name)
    _check_export_target(out)
    if args.calibration_data is not None:
        check_readable(args.calibration_data)
    with writing(out), _staged(out) as staging:
        written = _write_export(args, staging)
    shown = ", ".join(str(out / path.name) for path in written)
    print(f"Wrote {shown}; load it with qa-predict {out} ...", file=stdout)
    return 0


def _check_export_target(out: Path) -> None:
    """OutputPathError unless `out` is new, an empty folder, or a previous export (which the
    new one replaces whole)."""
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"--out {str(out)!r} is a file; give a directory for the export.")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_SETTINGS).is_file():
        raise OutputPathError(
            f"--out {str(out)!r} holds files that qa-export did not write (it has no "
            f"{EXPORT_SETTINGS}), which the export would replace; give a new or empty directory.")


@contextlib.contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A new hidden folder beside `out` (runs.staging) for the block to write the export
    into, renamed to `out` when the block succeeds (replacing a previous export there);
    removed, with the parent folders it needed, when the block fails. The staging folders of
    earlier exports to `out` that were killed are removed first. OutputPathError at once when
    it cannot be made (a read-only place, a file on the way, /proc)."""
    made = [folder for folder in (out.parent, *out.parent.parents) if not folder.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        removed = staging.remove_dead(out)
        folder = staging.make(out)
    except OSError as error:
        _remove_empty(made)
        raise OutputPathError(f"cannot write the export at --out {str(out)!r}: "
                              f"{error.strerror or error}; give a directory you can write "
                              "to.") from error
    for path, pid in removed:
        print(f"{PROG}: removed {path}, left by an export (pid {pid}) that was stopped before "
              "it finished", file=sys.stderr)
    try:
        yield folder.path
        os.chmod(folder.path, 0o755)  # mkdtemp makes it 0700
        folder.unmark()
        _replace(out, folder.path)
    except BaseException:
        shutil.rmtree(folder.path, ignore_errors=True)
        _remove_empty(made)
        raise
    finally:
        folder.close()


def _replace(out: Path, complete: Path) -> None:
    """Rename the folder `complete` to `out`; a previous export at `out` is moved into a
    staging folder of its own first (put back if the rename fails, or by the next export if
    this process dies in between) and removed once it is replaced."""
    if not out.exists():
        os.replace(complete, out)
        return
    previous = staging.make(out, staging.PREVIOUS)
    try:
        os.replace(out, previous.path / out.name)
        try:
            os.replace(complete, out)
        except OSError:
            os.replace(previous.path / out.name, out)
            raise
    finally:
        if out.exists():  # else the previous export stays, for the next export to put back
            shutil.rmtree(previous.path, ignore_errors=True)
        previous.close()


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (deepest first) that are still empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _write_export(args: argparse.Namespace, out: Path) -> list[Path]:
    """Load the run and write its export into the folder `out`; the paths of its models."""
    with needs_package(PROG, extra("export")):
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    from qa_experiments.data.windows import prepare_eval_features
    from qa_experiments.inference.onnx_backend import export_onnx
    from qa_experiments.inference.predictor import load_run

    questions = []  # read with the run's settings, before its model loads

    def read_calibration(data_cfg) -> None:
        questions.append(_calibration_questions(data_cfg, args.calibration_data))

    run = load_run(args.run_dir, check_inputs=read_calibration if args.quantize else None)
    windows = prepare_eval_features(questions[0], run.tokenizer, run.data_cfg) \
        if questions else None
    return export_onnx(run, out, quantize=args.quantize, calibration=windows)


def _calibration_questions(data_cfg, path: Path | None):
    """The questions of the int8 calibration (read before the model loads)."""
    from qa_experiments.config.paths import bundled_data_path
    from qa_experiments.inference.predictor import load_examples

    if path is None:
        version = "v2.0" if data_cfg.version_2_with_negative else "v1.1"
        path = bundled_data_path(f"train-{version}-subset.json.gz")
    examples, _ = load_examples(data_cfg, path, max_samples=CALIBRATION_QUESTIONS,
                                require_answers=False)
    return examples


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    return run_model_command(PROG, _parse_args, export, argv)


if __name__ == "__main__":
    raise SystemExit(main())
