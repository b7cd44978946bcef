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
from qa_experiments.errors import UserError

PROG = "qa-export"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory, a checkpoint or a model directory")
    parser.add_argument("--format", choices=("onnx",), default="onnx")
    parser.add_argument("--quantize", choices=("int8",),
                        help="also write a dynamically quantized int8 model (ONNX Runtime)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the export directory (default: RUN_DIR/onnx)")
    return parser.parse_args(argv)


def export(args: argparse.Namespace) -> int:
    out = args.out or output_home(args.run_dir) / "onnx"
    check_output_dir(out.parent, name=out.name)
    try:  # the `export` extra
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ModuleNotFoundError as error:
        raise UserError(f"{PROG} needs the optional package {error.name!r}: "
                        "pip install 'qa-experiments[export]'") from error
    from qa_experiments.inference.onnx_backend import export_onnx
    from qa_experiments.inference.predictor import load_run

    written = export_onnx(load_run(args.run_dir), out, quantize=args.quantize)
    print(f"Wrote {', '.join(str(path) for path in written)}; load it with qa-predict {out} ...")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    args = _parse_args(argv)
    return run_command(PROG, lambda: export(args))


if __name__ == "__main__":
    raise SystemExit(main())
