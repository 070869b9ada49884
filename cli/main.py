"""``kerasrnn``: train, evaluate, predict and generate with recurrent networks from the shell.

A thin layer over :mod:`kerasrnn.training`.  Nothing heavy is imported at
module level -- not Keras, not ``kerasrnn`` (whose ``__init__`` imports
Keras): ``--backend`` must set ``KERAS_BACKEND`` before Keras is imported, and
``kerasrnn --help`` / ``archs`` / ``datasets`` / ``presets`` stay fast.

Exit codes: 0 success; 2 a usage error (unknown architecture, data set or
preset, an invalid option value, a missing input file, an existing ``--out``);
1 a failure while working (malformed data, NaNs in the data, an unwritable
``--out``, a NaN loss); 130 interrupted.  Errors are one line on stderr; add
``--debug`` for the traceback.
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback

import click

from cli import catalog

BACKENDS = ("tensorflow", "jax", "torch")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


class UsageFailure(click.ClickException):
    """A usage error shown as one line (exit code 2)."""

    exit_code = 2


def _is_debug(args) -> bool:
    return "--debug" in (args or []) or os.environ.get("KERASRNN_DEBUG", "") not in ("", "0")


def _exit_code_of(error: BaseException) -> int:
    code = getattr(error, "exit_code", None)
    if isinstance(code, int):
        return code
    return 1


def _describe(error: BaseException) -> str:
    text = str(error).strip().replace("\n", " ")
    names = {"DataError", "ConfigError", "RunDirError", "RunDirExistsError", "TrainingError", "NaNLossError"}
    if type(error).__name__ in names:
        return text
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror or text}: {error.filename}"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# Commands defined elsewhere in the package, imported only when invoked
# (importing kerasrnn imports Keras): name -> (module, attribute, short help).
LAZY_COMMANDS = {
    "export": (
        "kerasrnn.export.command",
        "export_command",
        "Export a run's model to SavedModel and/or ONNX, checked for parity.",
    ),
    "bench": (
        "kerasrnn.bench.command",
        "bench_command",
        "Benchmark training/predict throughput and memory against keras and torch.nn LSTM/GRU.",
    ),
}


def _lazy_available(name: str) -> bool:
    module = LAZY_COMMANDS[name][0]
    relative = module.split(".", 1)[1].replace(".", os.sep) + ".py"
    try:
        return (catalog.package_dir() / relative).is_file()
    except ImportError:
        return False


class KerasrnnGroup(click.Group):
    """A click group whose errors are one line, with the exit codes above.

    Commands in :data:`LAZY_COMMANDS` are listed with a fixed short help and
    imported only when they run, so that ``kerasrnn --help`` stays fast.
    """

    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        names.update(name for name in LAZY_COMMANDS if _lazy_available(name))
        return sorted(names)

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None or name not in LAZY_COMMANDS or not _lazy_available(name):
            return command
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        default_to_an_installed_backend()  # importing the kerasrnn package imports Keras
        import importlib

        module, attribute, _ = LAZY_COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_COMMANDS[name][2]))
                continue
            command = self.commands.get(name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - max(map(len, self.list_commands(ctx))))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if args is None:
            args = sys.argv[1:]
        args = list(args)
        debug = _is_debug(args)
        try:
            result = super().main(args=args, prog_name=prog_name or "kerasrnn", complete_var=complete_var,
                                  standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.format_message(), err=True)
            sys.exit(2)
        except click.UsageError as error:
            hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
            click.echo(f"Error: {error.format_message()}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as error:  # noqa: BLE001 -- every failure is one line
            if debug:
                traceback.print_exc()
            else:
                click.echo(f"Error: {_describe(error)}", err=True)
            sys.exit(_exit_code_of(error))
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


# --------------------------------------------------------------------------- #
# Backend and common options
# --------------------------------------------------------------------------- #


def _keras_json_backend() -> str:
    """The backend in Keras' ``keras.json`` (Keras writes ``tensorflow`` there by default)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as handle:
            return json.load(handle).get("backend") or "tensorflow"
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def default_to_an_installed_backend() -> None:
    """Where no backend is chosen and Keras' would-be one is missing, use JAX or torch.

    Keras falls back to ``keras.json``'s backend (``tensorflow`` unless changed)
    and fails at import when that is not installed: on a machine with only
    JAX or PyTorch (a GPU box, say). ``KERAS_BACKEND`` is always kept.
    Says on stderr which backend it picked.
    """
    import importlib.util

    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return
    configured = _keras_json_backend()
    if importlib.util.find_spec(configured):
        return
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name):
            os.environ["KERAS_BACKEND"] = name
            click.echo(f"kerasrnn: {configured} (Keras' configured backend) is not installed; using {name}", err=True)
            return


def use_backend(backend: str | None) -> str:
    """Set ``KERAS_BACKEND`` (before Keras is imported); return the backend in use."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO/WARNING lines
    keras_module = sys.modules.get("keras")
    if keras_module is not None:
        current = keras_module.backend.backend()
        if backend and backend != current:
            raise UsageFailure(
                f"--backend {backend}: Keras is already imported with the {current} backend in this process"
            )
        return current
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    else:
        default_to_an_installed_backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def backend_option(function):
    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default=None,
        help="Keras backend (sets KERAS_BACKEND before Keras is imported). Default: $KERAS_BACKEND, else tensorflow.",
    )(function)


def debug_option(function):
    return click.option("--debug", is_flag=True, help="Show the traceback of an error.")(function)


def _check_choice(kind: str, value: str, accepted) -> None:
    if value not in accepted:
        raise UsageFailure(f"unknown {kind} {value!r}; expected one of: {', '.join(accepted)}")


def _check_run_dir(path: str) -> None:
    if not os.path.isdir(path):
        raise UsageFailure(f"run directory not found: {path}")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise UsageFailure(f"{path} is not a kerasrnn run directory (no config.json)")


@click.group(cls=KerasrnnGroup, context_settings=CONTEXT)
@click.version_option(package_name="kerasrnn", prog_name="kerasrnn")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
def main(debug):
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


# --------------------------------------------------------------------------- #
# fit
# --------------------------------------------------------------------------- #

# CLI option -> RunConfig field, for options that map one to one.
_FIT_FIELDS = (
    "arch", "data_dir", "label_col", "task", "window", "seq_len", "max_chars", "max_samples",
    "validation_fraction", "units", "layers", "dropout", "merge_mode", "embedding_dim", "init", "optimizer",
    "lr", "lr_schedule", "batch_size", "epochs", "iterations", "clipnorm", "patience", "augment_shift",
    "time_budget", "seed", "sample_length", "jit_compile",
)
_RESUME_ALLOWED = {"resume", "quiet", "backend", "debug"}


@main.command(context_settings=CONTEXT)
@click.option("--arch", help="Architecture (see 'kerasrnn archs'). Default: bigru (gru for text).")
@click.option("--dataset", help="mnist (default), sunspots, shakespeare, or the path of a data file.")
@click.option("--data", "data_file", metavar="FILE", help="Your sequences: .npz (x, y) or delimited text (UCR: label first).")
@click.option("--test-data", "test_file", metavar="FILE", help="Test split for --data (default: FOO_TEST next to FOO_TRAIN, else a seeded split).")
@click.option("--text", "text_file", metavar="FILE", help="A UTF-8 corpus for the character language model (default: tiny-shakespeare).")
@click.option("--data-dir", metavar="DIR", help="Directory with MNIST IDX files (default $KERASRNN_DATA).")
@click.option("--pixel", is_flag=True, help="MNIST pixel by pixel (784 x 1) instead of row by row.")
@click.option("--permuted", is_flag=True, help="MNIST pixel by pixel in a fixed seeded random order.")
@click.option("--label-col", type=int, help="Label column of a delimited --data file (default 0; -1 = last).")
@click.option("--task", type=click.Choice(["classification", "regression", "labelling"]), help="Force the task of --data (default: inferred from the labels).")
@click.option("--window", type=int, help="Sunspots: years of history per forecast (default 12).")
@click.option("--seq-len", type=int, help="Text: characters per training sequence (default 100).")
@click.option("--max-chars", type=int, help="Text: use only the first N characters.")
@click.option("--max-samples", type=int, help="Keep at most N samples of each split (seeded), for quick runs.")
@click.option("--validation-fraction", type=float, help="Fraction of the training data held out for validation.")
@click.option("--units", type=int, help="Units per recurrent layer (default: per data set, 128 for MNIST; 16 filters for convlstm).")
@click.option("--layers", type=int, help="Stacked recurrent layers (default 1).")
@click.option("--dropout", type=float, help="Dropout between layers and before the head (default 0).")
@click.option("--merge-mode", type=click.Choice(["concat", "sum", "mul", "ave"]), help="How bi- architectures merge directions (default concat).")
@click.option("--embedding-dim", type=int, help="Text: character embedding width (default 64).")
@click.option("--init", type=click.Choice(["keras", "pytorch"]), help="Weight initialization: keras (default) or pytorch (torch.nn's, to rerun PyTorch labs).")
@click.option("--optimizer", type=click.Choice(["adam", "sgd", "rmsprop"]), help="Default adam.")
@click.option("--lr", type=float, help="Learning rate (default: per data set, 3e-3 for MNIST).")
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), help="Per-epoch schedule (default: cosine for MNIST and text).")
@click.option("--batch-size", type=int, help="Training batch size (default: per data set, 128 for MNIST).")
@click.option("--epochs", type=int, help="Maximum epochs (default: per data set, 20 for MNIST).")
@click.option("--iterations", type=int, help="Stop after N training batches instead (as the course's '3000 iterations').")
@click.option("--clipnorm", type=float, help="Clip gradients to this norm (default 1.0; 0 turns clipping off).")
@click.option("--patience", type=int, help="Early stopping patience in epochs, best weights restored (0 = off).")
@click.option("--augment-shift", type=int, help="MNIST: random shifts of training images by up to N pixels (default 2; 0 = off).")
@click.option("--time-budget", type=float, help="Seconds of training after which no new epoch starts (default 240; 0 = none).")
@click.option("--seed", type=int, help="Seed for weights, data order, augmentation (default 0).")
@click.option("--jit-compile", type=click.Choice(["auto", "on", "off"]), help="auto (default: Keras' choice, XLA on JAX, eager torch, no XLA on a CPU-only TensorFlow), on (XLA / torch.compile: faster steps after a long first one), off.")
@click.option("--sample-length", type=int, help="Text: characters per sample in samples.txt (default 300).")
@click.option("--preset", help="Run a course lab as configured (see 'kerasrnn presets'); other options override it.")
@click.option("--out", metavar="DIR", help="New run directory (default runs/<time>-<arch>-<dataset>); must not exist or be empty.")
@click.option("--resume", metavar="RUN", help="Continue an interrupted run from its last completed epoch.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; print only the final line.")
@backend_option
@debug_option
@click.pass_context
def fit(ctx, **options):
    """Train a model and write a run directory.

    The run directory holds model.keras, config.json (every resolved option, the data source,
    backend and versions), history.csv, metrics.json, curves.png, and samples.txt for text.
    A run stopped in any way (Ctrl-C, kill -9, a crash) continues with --resume RUN.

    \b
    Examples:
      kerasrnn fit --arch bigru
      kerasrnn fit --arch lstm --layers 2 --units 128 --optimizer adam --lr 0.01 --epochs 5
      kerasrnn fit --preset lstm-2x128-adam --backend jax
      kerasrnn fit --dataset sunspots --arch lstm --units 32
      kerasrnn fit --dataset shakespeare --arch gru --units 256 --out runs/char-gru
      kerasrnn fit --data ECG200_TRAIN.tsv --arch bilstm
      kerasrnn fit --resume runs/20260101-120000-bigru-mnist
    """
    quiet = options["quiet"]
    given = {
        name for name in options
        if ctx.get_parameter_source(name) in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    }
    if options["resume"]:
        extra = sorted(given - _RESUME_ALLOWED)
        if extra:
            raise UsageFailure(
                "--resume continues a run with the options in its config.json; drop "
                + ", ".join("--" + name.replace("_", "-") for name in extra)
            )
        _check_run_dir(options["resume"])
        use_backend(options["backend"])
        from kerasrnn.training import resume

        run = resume(options["resume"], progress=not quiet, log=None if quiet else _log)
        _print_final(run)
        return 0

    values = _fit_config_values(options, given)
    use_backend(options["backend"])
    from kerasrnn.training import RunConfig, fit as fit_run

    config = RunConfig.from_dict(values)
    if not quiet and config.preset:
        _log(f"preset {config.preset}: {catalog.presets()[config.preset]['description']}")
    run = fit_run(config, out=options["out"], progress=not quiet, log=None if quiet else _log)
    _print_final(run)
    return 0


def _fit_config_values(options: dict, given: set) -> dict:
    """RunConfig fields from the command line (and a preset), checked without Keras."""
    values: dict = {}
    preset = options["preset"]
    if preset is not None:
        presets = catalog.presets()
        _check_choice("preset", preset, list(presets))
        values.update(presets[preset]["options"])
        values["preset"] = preset
    for name in _FIT_FIELDS:
        if options[name] is not None:
            values[name] = options[name]
    if options["clipnorm"] is not None and options["clipnorm"] == 0:
        values["clipnorm"] = None

    dataset = options["dataset"]
    datasets = list(catalog.datasets())
    if options["data_file"]:
        if dataset not in (None, "file"):
            raise UsageFailure(f"give either --dataset {dataset} or --data {options['data_file']}, not both")
        dataset, values["data_file"] = "file", options["data_file"]
    elif dataset is not None and dataset not in datasets and dataset != "file" and os.path.exists(dataset):
        dataset, values["data_file"] = "file", dataset
    if dataset is not None:
        if dataset != "file":
            _check_choice("dataset", dataset, datasets + ["file"])
        values["dataset"] = dataset
    if values.get("data_file") and not os.path.exists(values["data_file"]):
        raise UsageFailure(f"data file not found: {values['data_file']}")
    if options["test_file"]:
        if not os.path.isfile(options["test_file"]):
            raise UsageFailure(f"test file not found: {options['test_file']}")
        values["test_file"] = options["test_file"]
    if options["text_file"]:
        if not os.path.isfile(options["text_file"]):
            raise UsageFailure(f"text file not found: {options['text_file']}")
        if values.get("dataset", "shakespeare") != "shakespeare":
            raise UsageFailure("--text gives the corpus of --dataset shakespeare (the character language model)")
        values["dataset"], values["text_file"] = "shakespeare", options["text_file"]
    if options["pixel"] and options["permuted"]:
        raise UsageFailure("give --pixel or --permuted, not both")
    if options["pixel"] or options["permuted"]:
        values["layout"] = "pixel" if options["pixel"] else "permuted"
    if "arch" in values:
        _check_choice("architecture", values["arch"], list(catalog.architectures()))
    if options["out"]:
        _check_out(options["out"])
    return values


def _check_out(out: str) -> None:
    """Fail before any work if --out exists (non-empty) or cannot be created."""
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise UsageFailure(f"--out {out} exists and is a file; give a new directory")
        if os.listdir(out):
            raise UsageFailure(
                f"--out {out} exists and is not empty; give a new directory, or continue that run with --resume {out}"
            )
        if not os.access(out, os.W_OK | os.X_OK):
            raise click.ClickException(f"cannot write the run directory {out}: permission denied")
        return
    parent = os.path.dirname(os.path.abspath(out))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise click.ClickException(f"cannot create the run directory {out}: {parent} is not a writable directory")


def _log(message: str) -> None:
    click.echo(f"kerasrnn: {message}", err=True)


def _print_final(run) -> None:
    from kerasrnn.training.run_dir import RunDir
    from kerasrnn.training.trainer import summary_line

    metrics = RunDir(run).read_metrics() or {}
    click.echo(f"{summary_line(metrics)}; run directory {run}")


# --------------------------------------------------------------------------- #
# evaluate, predict, generate
# --------------------------------------------------------------------------- #


@main.command(context_settings=CONTEXT)
@click.argument("run", metavar="RUN")
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@backend_option
@debug_option
def evaluate(run, split, as_json, backend, debug):
    """Reload a run's model and data and print its metrics.

    \b
    Example:
      kerasrnn evaluate runs/20260101-120000-bigru-mnist
      kerasrnn evaluate runs/RUN --split val --json
    """
    _check_run_dir(run)
    use_backend(backend)
    from kerasrnn.training import evaluate_run

    result = evaluate_run(run, split)
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return 0
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
        click.echo(f"{key}: {_fmt(value)}")
    return 0


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return value


@main.command(context_settings=CONTEXT)
@click.argument("run", metavar="RUN")
@click.option("--input", "input_file", required=True, metavar="FILE", help=".npz (array x) or delimited text, one sequence per line.")
@click.option("--label-col", type=int, default=None, help="Column of the input that holds labels (skipped; accuracy reported).")
@click.option("--output", "-o", metavar="FILE", help="Write the CSV here instead of to stdout.")
@backend_option
@debug_option
def predict(run, input_file, label_col, output, backend, debug):
    """Predict sequences from a file with a run's model; CSV to stdout (or --output).

    \b
    Examples:
      kerasrnn predict runs/RUN --input digits.npz
      kerasrnn predict runs/RUN --input ECG200_TEST.tsv --label-col 0 --output predictions.csv
    """
    _check_run_dir(run)
    if not os.path.isfile(input_file):
        raise UsageFailure(f"input file not found: {input_file}")
    use_backend(backend)
    from kerasrnn.training.prediction import csv_text, predict_file

    columns, rows, summary = predict_file(run, input_file, label_col)
    text = csv_text(columns, rows)
    if output:
        from kerasrnn.training.atomic import write_text

        write_text(output, text)
    else:
        click.echo(text, nl=False)
    parts = [f"{summary['samples']} sequences predicted"]
    if "accuracy" in summary:
        parts.append(f"accuracy {summary['accuracy']:.4f} against the labels")
    if "rmse" in summary:
        parts.append(f"RMSE {summary['rmse']:.4g} against the labels")
    parts += summary.get("notes", [])
    if output:
        parts.append(f"written to {output}")
    click.echo("kerasrnn: " + "; ".join(parts), err=True)
    return 0


@main.command(context_settings=CONTEXT)
@click.argument("run", metavar="RUN")
@click.option("--length", type=click.IntRange(min=1), default=300, show_default=True, help="Characters to generate.")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True, help="Sampling temperature (0 = most likely).")
@click.option("--prime", default="\n", help="Text to start from (default: a newline).")
@click.option("--end", default=None, help="Stop when the generated text ends with this string (e.g. a blank line).")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Independent samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@backend_option
@debug_option
def generate(run, length, temperature, prime, end, samples, seed, backend, debug):
    """Generate text character by character with a run's language model.

    \b
    Examples:
      kerasrnn generate runs/RUN --length 300 --temperature 0.8
      kerasrnn generate runs/RUN --prime "ROMEO:" --end $'\\n\\n' --samples 3
    """
    _check_run_dir(run)
    use_backend(backend)
    from kerasrnn.training import generate_from_run

    prime, end = _unescape(prime), (_unescape(end) if end else None)
    texts = generate_from_run(run, length, temperature, prime, end, samples, seed)
    for index, text in enumerate(texts):
        if samples > 1:
            click.echo(f"=== sample {index + 1} ===")
        click.echo(prime + text if prime != "\n" else text)
    return 0


def _unescape(text: str) -> str:
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


# --------------------------------------------------------------------------- #
# Listings and environment
# --------------------------------------------------------------------------- #


def _echo_listing(entries: dict) -> None:
    """``name  description`` lines, names padded to one width."""
    width = max(map(len, entries))
    for name, description in entries.items():
        click.echo(f"{name:<{width}}  {description}")


@main.command(context_settings=CONTEXT)
def archs():
    """List the architectures for --arch.

    \b
    Example:
      kerasrnn archs
    """
    _echo_listing(catalog.architectures())


@main.command(context_settings=CONTEXT)
def datasets():
    """List the built-in data sets for --dataset (any other: --data FILE).

    \b
    Example:
      kerasrnn datasets
    """
    _echo_listing({
        **catalog.datasets(),
        "--data FILE": "your sequences: .npz (x, y) or delimited text, UCR convention (label first)",
    })


@main.command(context_settings=CONTEXT)
def presets():
    """List the course presets for --preset, with the accuracy the course reported.

    \b
    Example:
      kerasrnn presets
      kerasrnn fit --preset table-lstm-1
    """
    lines = {}
    for name, preset in catalog.presets().items():
        reported = preset.get("reported_test_accuracy")
        note = f" (course: {reported:.2%} on full MNIST)" if reported is not None else ""
        lines[name] = preset["description"] + note
    _echo_listing(lines)


@main.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@backend_option
@debug_option
def env(as_json, backend, debug):
    """Show versions, the Keras backend and its devices.

    \b
    Examples:
      kerasrnn env
      kerasrnn env --backend jax --json
    """
    use_backend(backend)
    from kerasrnn.training.environment import environment

    info = environment()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        click.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    return 0


if __name__ == "__main__":
    main()
