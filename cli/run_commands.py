"""``kerasrnn evaluate``, ``predict`` and ``generate``: use the model of a run directory.

Each checks its arguments (the run directory, the input file, the output
path) before it chooses the backend and imports Keras, then calls one
function of :mod:`kerasrnn.training`.
"""

from __future__ import annotations

import logging

import click

from kerasrnn.cli.backend import use_backend
from kerasrnn.cli.checks import check_input_file, check_output_file, check_run_dir
from kerasrnn.cli.options import (
    CONTEXT_SETTINGS,
    backend_option,
    debug_option,
    json_option,
    run_argument,
)
from kerasrnn.cli.output import echo_fields, echo_json, prediction_note

logger = logging.getLogger("kerasrnn")

#: Exit status of an interrupted command (128 + SIGINT), as in :mod:`kerasrnn.cli.main`.
INTERRUPTED = 130


@click.command(context_settings=CONTEXT_SETTINGS)
@run_argument
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test", show_default=True)
@click.option(
    "--allow-changed-data",
    is_flag=True,
    help="Evaluate even though the data changed since the run was trained (the output says data_changed: True).",
)
@json_option("Print the metrics as JSON.")
@backend_option
@debug_option
def evaluate(run: str, split: str, allow_changed_data: bool, as_json: bool, backend: str | None) -> None:
    """Reload a run's model and data and print its metrics.

    The data must be the data the run was trained on (its digest is in
    config.json); if it changed, evaluate stops unless --allow-changed-data.

    \b
    Example:
      kerasrnn evaluate runs/20260101-120000-bigru-mnist
      kerasrnn evaluate runs/RUN --split val --json
    """
    check_run_dir(run)
    use_backend(backend)
    from kerasrnn.training import evaluate_run

    result = evaluate_run(run, split, allow_changed_data=allow_changed_data)
    if as_json:
        echo_json(result, sort_keys=True)
    else:
        echo_fields(result)


@click.command(context_settings=CONTEXT_SETTINGS)
@run_argument
@click.option(
    "--input",
    "input_file",
    required=True,
    metavar="FILE",
    help=".npz (array x) or delimited text, one sequence per line.",
)
@click.option(
    "--label-col", type=int, default=None, help="Column of the input that holds labels (skipped; accuracy reported)."
)
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    help="Write the CSV here instead of to stdout (replaced if it exists; never the input or inside the run directory).",
)
@backend_option
@debug_option
def predict(run: str, input_file: str, label_col: int | None, output: str | None, backend: str | None) -> None:
    """Predict sequences from a file with a run's model; CSV to stdout (or --output).

    \b
    Examples:
      kerasrnn predict runs/RUN --input digits.npz
      kerasrnn predict runs/RUN --input ECG200_TEST.tsv --label-col 0 --output predictions.csv
    """
    check_run_dir(run)
    check_input_file(input_file, "input file")
    if output:
        check_output_file(output, "--output", {"the input file": input_file, "the run directory": run})
    use_backend(backend)
    from kerasrnn.training.prediction import csv_text, predict_file

    columns, rows, summary = predict_file(run, input_file, label_col)
    text = csv_text(columns, rows)
    if output:
        from kerasrnn.storage.atomic import write_text

        write_text(output, text)
    else:
        click.echo(text, nl=False)
    logger.info("%s", prediction_note(summary, output))


#: The most characters ``generate --length`` asks for (a sample of each ``--samples``).
MAX_LENGTH = 1_000_000


@click.command(context_settings=CONTEXT_SETTINGS)
@run_argument
@click.option(
    "--length",
    type=click.IntRange(min=1, max=MAX_LENGTH),
    default=300,
    show_default=True,
    help=f"Characters to generate (at most {MAX_LENGTH:,}).",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=0.8,
    show_default=True,
    help="Sampling temperature (0 = most likely).",
)
@click.option("--prime", default="\n", help="Text to start from (default: a newline).")
@click.option("--end", default=None, help="Stop when the generated text ends with this string (e.g. a blank line).")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Independent samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@backend_option
@debug_option
@click.pass_context
def generate(
    ctx: click.Context,
    run: str,
    length: int,
    temperature: float,
    prime: str,
    end: str | None,
    samples: int,
    seed: int,
    backend: str | None,
) -> None:
    """Generate text character by character with a run's language model.

    The text is printed as it is generated (the first sample, when there are
    several: they are drawn together, and the others are printed at the end).
    Ctrl-C stops it; what was printed stays, and the command exits 130.

    \b
    Examples:
      kerasrnn generate runs/RUN --length 300 --temperature 0.8
      kerasrnn generate runs/RUN --prime "ROMEO:" --end $'\\n\\n' --samples 3
    """
    check_run_dir(run)
    use_backend(backend)
    from kerasrnn.training import generate_from_run

    prime, end = unescape(prime), (unescape(end) if end else None)
    shown = prime if prime != "\n" else ""
    streamed = 0

    def stream(sample: int, text: str) -> None:
        nonlocal streamed
        if sample == 0:
            if streamed == 0:
                if samples > 1:
                    click.echo("=== sample 1 ===")
                click.echo(shown, nl=False)
            click.echo(text, nl=False)  # click.echo flushes: each character shows as it comes
            streamed += 1

    try:
        texts = generate_from_run(run, length, temperature, prime, end, samples, seed, on_text=stream)
    except KeyboardInterrupt:
        if not streamed:
            raise  # nothing printed yet: the group's "Interrupted."
        click.echo()
        click.echo(f"Interrupted after {streamed} generated character(s); the text above is kept.", err=True)
        ctx.exit(INTERRUPTED)
    click.echo()
    for index, text in enumerate(texts[1:], start=2):
        click.echo(f"=== sample {index} ===")
        click.echo(shown + text)


def unescape(text: str) -> str:
    r"""``\n``, ``\t`` and ``\\`` typed on a command line, as the characters."""
    out, index = [], 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text) and text[index + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[text[index + 1]])
            index += 2
        else:
            out.append(text[index])
            index += 1
    return "".join(out)
