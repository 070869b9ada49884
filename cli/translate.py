"""``kerasrnn translate``: translate sentences with a sequence-to-sequence run's model."""

from __future__ import annotations

import click

from kerasrnn.cli.backend import use_backend
from kerasrnn.cli.checks import check_input_file, check_run_dir
from kerasrnn.cli.options import CONTEXT_SETTINGS, backend_option, debug_option, json_option, run_argument
from kerasrnn.cli.output import echo_json
from kerasrnn.errors import ConfigError


@click.command(context_settings=CONTEXT_SETTINGS)
@run_argument
@click.argument("sentences", nargs=-1)
@click.option(
    "--input",
    "input_file",
    type=str,
    default=None,
    metavar="FILE",
    help="A UTF-8 file of sentences to translate, one a line (empty lines are skipped).",
)
@click.option(
    "--beam",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Beam size (1: greedy decoding; beam search uses GNMT's length penalty, alpha 0.6).",
)
@json_option("Print a JSON list of {source, translation, unknown_words}.")
@backend_option
@debug_option
def translate(
    run: str, sentences: tuple[str, ...], input_file: str | None, beam: int, as_json: bool, backend: str | None
) -> None:
    """Translate sentences with a sequence-to-sequence run's model.

    The sentences are tokenized as the run's training data was (its
    vocabularies are in the run directory); words the run never saw become
    <unk> and are counted on stderr.  One translation a line on stdout.

    \b
    Examples:
      kerasrnn translate runs/RUN "I'm cold." "Where is the station?"
      kerasrnn translate runs/RUN --input sentences.txt --beam 5
    """
    check_run_dir(run)
    texts = list(sentences)
    if input_file is not None:
        check_input_file(input_file, "input file")
        texts.extend(_read_lines(input_file))
    if not texts:
        raise ConfigError("nothing to translate: give sentences as arguments or --input FILE")
    use_backend(backend)
    from kerasrnn.training import translate_run

    results = translate_run(run, texts, beam=beam)
    if as_json:
        echo_json(results)
    else:
        for result in results:
            click.echo(result["translation"])
    unknown = sum(result["unknown_words"] for result in results)
    if unknown:
        click.echo(f"note: {unknown} source word(s) not in the run's vocabulary were read as <unk>", err=True)


def _read_lines(path: str) -> list[str]:
    from kerasrnn.data.text import read_text_file

    return [line.strip() for line in read_text_file(path).splitlines() if line.strip()]
