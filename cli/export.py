"""``kerasrnn export``: export the model of a run directory to SavedModel and/or ONNX.

Importing this module imports click only; the exporter (keras, and
TensorFlow in the worker or on the TensorFlow backend) is loaded when the
command runs.  The exporter logs its progress and figures on the
``kerasrnn.export`` logger, which the CLI prints on stderr
(:func:`kerasrnn.cli.output.cli_logging`).
"""

from __future__ import annotations

from pathlib import Path

import click

EXAMPLES = """
\b
Examples:
  kerasrnn export runs/20260101-120000-bigru-mnist
  kerasrnn export RUN --format onnx --out bigru-onnx --opset 17
  kerasrnn export RUN --format all --streaming      # also the single-step model
  kerasrnn export FRA_ENG_RUN                        # seq2seq: OUT/encoder + OUT/decoder_step
"""


@click.command(
    "export",
    help=(
        "Export the model of a run directory to SavedModel and/or ONNX.\n\n"
        "Both formats take any batch size and any sequence length. Every artifact is "
        "reloaded (tf.saved_model.load, onnxruntime) and compared with the Keras model "
        "on two batch sizes and two sequence lengths, one of them never seen in "
        "training; the figures are printed and stored in OUT/parity.json. If any error "
        "exceeds the tolerance the command exits 1 and leaves nothing at OUT.\n\n"
        "Models trained on the JAX or torch backend are reloaded from model.keras under "
        "the TensorFlow backend in a worker process and exported from there.\n\n"
        "A sequence-to-sequence run (--dataset fra-eng, --task seq2seq) is exported as two models, "
        "OUT/encoder and OUT/decoder_step (token and states in, logits and states out), with both "
        "vocabularies and the decoding recipe in OUT/metadata.json; greedy decoding with the exported "
        "pair is checked to give the Keras model's tokens.\n" + EXAMPLES
    ),
)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "format_",
    type=click.Choice(["savedmodel", "onnx", "all"]),
    default=None,
    help="Artifact format(s). Default: all, or onnx when --out ends in .onnx.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory (default: RUN_DIR/export), or NAME.onnx for one ONNX file (metadata inside). "
    "Must not exist unless --overwrite; never the run directory, inside it, or a directory holding it.",
)
@click.option("--opset", type=click.IntRange(min=9), default=None, help="ONNX opset (default 17).")
@click.option(
    "--streaming",
    is_flag=True,
    help="Also write the single-step model (x_t + states -> y_t + new states); unidirectional models only.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier export (or an empty directory) at --out; any other existing path is refused.",
)
@click.option(
    "--onnx-ops",
    type=click.Choice(["auto", "native", "tf2onnx"]),
    default="auto",
    show_default=True,
    help="ONNX recurrence: auto = ONNX RNN/GRU/LSTM operators where they express the model "
    "(SimpleRNN, GRU, LSTM, peephole LSTM; no masking) and pass parity, else tf2onnx's graph.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Largest accepted absolute difference from the Keras model (default 1e-5; 1e-4 for a "
    "sequence-to-sequence run, whose attention amplifies float32 rounding: docs/export.md).",
)
@click.option("--quiet", is_flag=True, help="Print only errors and the output path.")
def export_command(
    run_dir: Path,
    format_: str | None,
    out: Path | None,
    opset: int | None,
    streaming: bool,
    overwrite: bool,
    onnx_ops: str,
    tolerance: float | None,
    quiet: bool,
) -> None:
    from kerasrnn.cli.backend import use_backend

    use_backend(None)
    from kerasrnn.export.api import export_run
    from kerasrnn.export.errors import ExportError

    if format_ is None:
        format_ = "onnx" if out is not None and out.suffix.lower() == ".onnx" else "all"
    try:
        report = export_run(
            run_dir,
            format=format_,
            out=out,
            opset=opset,
            streaming=streaming,
            overwrite=overwrite,
            onnx_ops=onnx_ops,
            tolerance=tolerance,
            verbose=not quiet,
        )
    except ExportError as error:
        raise click.ClickException(str(error)) from None
    if quiet:
        click.echo(report["path"])
