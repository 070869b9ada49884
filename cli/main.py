"""``kerasrnn``: train, evaluate, predict and generate with recurrent networks from the shell.

The group of commands and the error policy.  Each command family lives in a
module of this package that is imported only when the command runs
(:data:`COMMANDS`), so ``kerasrnn --help`` imports click and nothing else,
and no module imports Keras before the command has chosen its backend.

Exit codes: 0 success; 2 a usage error (unknown architecture, data set or
preset, an invalid option value, a missing input file, an existing ``--out``);
1 a failure while working (malformed data, NaNs in the data, an unwritable
``--out``, a NaN loss); 130 interrupted.  Errors are one line on stderr
(``Error: ...``); ``--debug`` (or ``KERASRNN_DEBUG=1``) shows the traceback,
and the start-up lines of TensorFlow, absl and gRPC that are hidden otherwise
(:func:`kerasrnn.cli.backend.native_logging`).
Messages go to stderr through the ``kerasrnn`` logger
(:func:`kerasrnn.cli.output.cli_logging`).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NamedTuple

import click

from kerasrnn.cli import output
from kerasrnn.cli.backend import native_logging
from kerasrnn.cli.options import CONTEXT_SETTINGS
from kerasrnn.errors import ConfigError, DataError, RunDirError, TrainingError
from kerasrnn.training import host_memory

#: Exit status of an interrupted command (128 + SIGINT).
INTERRUPTED = 130
#: The library's error types: their message alone is the one line shown.
LIBRARY_ERRORS = (ConfigError, DataError, RunDirError, TrainingError)


class LazyCommand(NamedTuple):
    """Where a command is defined (``"module:attribute"``) and its line in ``kerasrnn --help``."""

    target: str
    short_help: str


#: Command name -> where it is.  The short help must be the command's own
#: (tests/cli checks); it is repeated here so that the listing imports nothing.
COMMANDS: dict[str, LazyCommand] = {
    "fit": LazyCommand("kerasrnn.cli.fit:fit", "Train a model and write a run directory."),
    "evaluate": LazyCommand(
        "kerasrnn.cli.run_commands:evaluate", "Reload a run's model and data and print its metrics."
    ),
    "predict": LazyCommand(
        "kerasrnn.cli.run_commands:predict",
        "Predict sequences from a file with a run's model; CSV to stdout (or --output).",
    ),
    "translate": LazyCommand(
        "kerasrnn.cli.translate:translate", "Translate sentences with a sequence-to-sequence run's model."
    ),
    "generate": LazyCommand(
        "kerasrnn.cli.run_commands:generate", "Generate text character by character with a run's language model."
    ),
    "archs": LazyCommand("kerasrnn.cli.listings:archs", "List the architectures for --arch."),
    "datasets": LazyCommand(
        "kerasrnn.cli.listings:datasets", "List the data sets for --dataset (file: your own, with --data FILE)."
    ),
    "presets": LazyCommand(
        "kerasrnn.cli.listings:presets", "List the course presets for --preset, with the accuracy the course reported."
    ),
    "env": LazyCommand("kerasrnn.cli.listings:env", "Show versions, the Keras backend and its devices."),
    "launch": LazyCommand(
        "kerasrnn.cli.launch:launch",
        "Run a kerasrnn command as a multi-worker job of local processes (TF_CONFIG, KERAS_DISTRIBUTION_*).",
    ),
    "export": LazyCommand(
        "kerasrnn.cli.export:export_command", "Export the model of a run directory to SavedModel and/or ONNX."
    ),
    "bench": LazyCommand(
        "kerasrnn.cli.bench:bench_command",
        "Training and predict samples/s and peak memory, beside keras.layers.LSTM and torch.nn.LSTM.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import and return command ``name`` of :data:`COMMANDS`."""
    module, attribute = COMMANDS[name].target.split(":")
    return getattr(importlib.import_module(module), attribute)


def wants_traceback(args: Sequence[str]) -> bool:
    """``--debug`` anywhere on the command line, or ``KERASRNN_DEBUG`` set (not ``0``)."""
    return "--debug" in args or os.environ.get("KERASRNN_DEBUG", "") not in ("", "0")


def exit_code_of(error: BaseException) -> int:
    """The error's ``exit_code`` (kerasrnn's errors and click's have one), else 1."""
    code = getattr(error, "exit_code", None)
    return code if isinstance(code, int) else 1


def describe(error: BaseException) -> str:
    """One line for an error: the message of kerasrnn's errors; ``Type: message`` for others."""
    text = " ".join(str(error).split())
    if isinstance(error, LIBRARY_ERRORS) or isinstance(getattr(error, "exit_code", None), int):
        return text
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror or text}: {error.filename}"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class KerasrnnGroup(click.Group):
    """The ``kerasrnn`` group: commands of :data:`COMMANDS`, one-line errors with the exit codes above."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(COMMANDS)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in COMMANDS:
            return command
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width)))
            elif name in COMMANDS:
                rows.append((name, COMMANDS[name].short_help))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(  # type: ignore[override] -- same signature; errors never return
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run a command; exit with its status.  With ``standalone_mode=False`` a success returns its result."""
        args = list(sys.argv[1:] if args is None else args)
        host_memory.keep_freed_memory()  # large tensors reused, not mapped again each batch
        with output.cli_logging(), native_logging(quiet=not wants_traceback(args)):
            code, result = self._run(args, prog_name or "kerasrnn", complete_var, **extra)
        if code == 0 and not standalone_mode:
            return result
        sys.exit(code)

    def _run(self, args: list[str], prog_name: str, complete_var: str | None, **extra: Any) -> tuple[int, Any]:
        try:
            result = super().main(
                args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.format_message(), err=True)
            return 2, None
        except click.UsageError as error:
            hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
            click.echo(f"Error: {error.format_message()}{hint}", err=True)
            return error.exit_code, None
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            return error.exit_code, None
        except (click.Abort, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            return INTERRUPTED, None
        except Exception as error:  # noqa: BLE001 -- every failure is one line
            if wants_traceback(args):
                traceback.print_exc()
            else:
                click.echo(f"Error: {describe(error)}", err=True)
            return exit_code_of(error), None
        return (result if isinstance(result, int) else 0), result


@click.group(cls=KerasrnnGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="kerasrnn", prog_name="kerasrnn")
@click.option("--debug", is_flag=True, expose_value=False, help="Show tracebacks of errors.")
def main() -> None:
    """Recurrent networks on Keras 3 (TensorFlow, JAX, PyTorch): train and use them from the shell.

    \b
    Examples:
      kerasrnn fit --arch bigru                  # MNIST row by row, under 5 min on 2 CPU cores
      kerasrnn fit --preset table-lstm-1         # a lab of the course, as configured
      kerasrnn fit --dataset sunspots            # forecasting, beside persistence and AR(9)
      kerasrnn fit --dataset shakespeare         # character language model
      kerasrnn fit --data FordA_TRAIN.tsv        # your own sequences (UCR format, .csv, .npz)
      kerasrnn evaluate runs/RUN
      kerasrnn generate runs/RUN --length 300 --temperature 0.8
    """


if __name__ == "__main__":
    main()
