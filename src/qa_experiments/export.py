"""`qa-export RUN_DIR --format onnx [--quantize int8] [--out DIR]`: export a trained model for
fast CPU inference with ONNX Runtime (see inference.onnx_backend).

The export directory (default RUN_DIR/onnx) loads wherever a run does: `qa-predict DIR`,
`qa-evaluate DIR`, `qa-serve DIR`, `QuestionAnswerer.load(DIR)`, with the same windows and
decoding. Needs the `export` extra: pip install 'qa-experiments[export]'.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa_experiments.cli.arguments import ArgumentParser, check_output_dir, output_home
from qa_experiments.cli.errors import run_command
from qa_experiments.data.squad_files import check_readable
from qa_experiments.data.windows import prepare_eval_features
from qa_experiments.errors import extra, needs_package

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


def export(args: argparse.Namespace) -> int:
    out = args.out or output_home(args.run_dir) / "onnx"
    check_output_dir(out.parent, name=out.name)
    with needs_package(PROG, extra("export")):
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    from qa_experiments.inference.onnx_backend import export_onnx
    from qa_experiments.inference.predictor import load_run

    if args.calibration_data is not None:
        check_readable(args.calibration_data)
    questions = []  # read with the run's settings, before its model loads

    def read_calibration(data_cfg) -> None:
        questions.append(_calibration_questions(data_cfg, args.calibration_data))

    run = load_run(args.run_dir, check_inputs=read_calibration if args.quantize else None)
    windows = prepare_eval_features(questions[0], run.tokenizer, run.data_cfg) \
        if questions else None
    written = export_onnx(run, out, quantize=args.quantize, calibration=windows)
    print(f"Wrote {', '.join(str(path) for path in written)}; load it with qa-predict {out} ...")
    return 0


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
    return run_command(PROG, lambda: export(_parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
