"""`segcore export-onnx`: a checkpoint's model as an ONNX graph plus a JSON sidecar.

    python -m segcore export-onnx --checkpoint runs/unet/best.pt --out unet.onnx
    python -m segcore export-onnx --checkpoint psp.pt --out psp.onnx --height 1024 --width 1024 --fixed-size
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segcore.cli.numbers import integer


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-onnx",
        help="export a checkpoint's model to ONNX (input 'image', output 'logits') with a JSON sidecar",
    )
    parser.add_argument("--checkpoint", type=Path, required=True, metavar="CKPT")
    parser.add_argument("--out", type=Path, required=True, metavar="MODEL.onnx", help="the sidecar goes to MODEL.onnx.json")
    parser.add_argument("--opset", type=integer(1), help="ai.onnx opset version (default: the exporter's)")
    parser.add_argument("--height", type=integer(1), default=512, help="example height, rounded up to the model's divisor (default 512)")
    parser.add_argument("--width", type=integer(1), default=512, help="example width, rounded up to the model's divisor (default 512)")
    parser.add_argument("--fixed-size", action="store_true",
                        help="graph for exactly the example H x W (for models whose pooling is not size-dynamic)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-torch check")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segcore.export.onnx import export_onnx  # torch loads only for this command

    result = export_onnx(
        args.checkpoint,
        args.out,
        height=args.height,
        width=args.width,
        opset=args.opset,
        dynamic_size=not args.fixed_size,
        verify=not args.no_verify,
    )
    h, w = result.example_size
    dims = "batch" if not result.dynamic_size else "batch, height and width"
    print(f"wrote {result.onnx_path} ({result.model_name}, opset {result.opset}, traced at {h}x{w}, dynamic {dims})")
    print(f"wrote {result.sidecar_path}")
    if result.verified_shape is None:
        if not args.no_verify:
            print("not verified: onnxruntime is not installed")
    else:
        print(f"verified with onnxruntime at {'x'.join(map(str, result.verified_shape))}: "
              f"max |onnx - torch| = {result.max_abs_diff:.2e}")
    return 0
