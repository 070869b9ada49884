"""``kerasrnn fit``: train a model and write a run directory; ``fit --resume RUN`` continues one.

The options are generated from :class:`~kerasrnn.training.run_config.RunConfig`
(:func:`kerasrnn.cli.options.config_options`), except those that set a field
their own way: ``--dataset`` (a name, or the path of a data file), ``--pixel``
/ ``--permuted`` (``layout``), ``--preset`` and ``--backend``; ``--out``,
``--resume``, ``--allow-changed-data`` and ``--quiet`` are no fields.  The
values are checked by :meth:`RunConfig.resolve` before Keras is imported, so a
wrong option (or one that does not apply: ``--pixel`` with another data set
than MNIST, ``--merge-mode`` on a one-way architecture, ``--epochs`` with
``--iterations``) costs no start-up time; the command line itself checks only
that input files exist and that ``--out`` can be written.

``fit --resume RUN`` takes the options of the run's ``config.json``; only
:data:`RESUME_OVERRIDES` may change (``--lr``, ``--epochs``,
``--time-budget``), and ``--allow-changed-data`` continues on data that
changed since the run began.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import click

from kerasrnn.cli.backend import use_backend_distributed
from kerasrnn.cli.checks import check_input_file, check_new_run_dir, check_resume_overrides, check_run_dir
from kerasrnn.cli.options import (
    CONTEXT_SETTINGS,
    backend_option,
    cli_fields,
    config_options,
    debug_option,
    quiet_option,
)
from kerasrnn.cli.output import echo_final_line
from kerasrnn.data.registry import DATASETS, DEFAULT_DATASET, FILE_DATASET
from kerasrnn.errors import ConfigError
from kerasrnn.training.run_dir import RunDir

if TYPE_CHECKING:
    from kerasrnn.training.run_config import RunConfig

logger = logging.getLogger("kerasrnn")

#: A process's place in a multi-worker job (the environment, not the run: never recorded).
PLACEMENT_OPTIONS = ("coordinator", "num_processes", "process_id")
#: The options ``--resume`` may change (those of ``kerasrnn.training.run.RESUME_OVERRIDES``,
#: named here so that the check imports no Keras; tests/cli checks they agree).
RESUME_OVERRIDES = ("lr", "epochs", "time_budget")
#: The options ``--resume`` accepts: the run's own config.json gives the rest.
RESUME_OPTIONS = frozenset(
    {"resume", "quiet", "backend", "debug", "allow_changed_data", *RESUME_OVERRIDES, *PLACEMENT_OPTIONS}
)

_DATASET_NAMES = ", ".join(
    f"{name} (default)" if name == DEFAULT_DATASET else name for name in DATASETS if name != FILE_DATASET
)
_dataset_option = click.option(
    "--dataset",
    metavar="NAME|FILE",
    help=f"{_DATASET_NAMES} (see 'kerasrnn datasets'), or the path of a data file (as --data).",
)
_pixel_option = click.option("--pixel", is_flag=True, help="MNIST pixel by pixel (784 x 1) instead of row by row.")
_permuted_option = click.option("--permuted", is_flag=True, help="MNIST pixel by pixel in a fixed seeded random order.")
_preset_option = click.option(
    "--preset",
    metavar="NAME",
    help="Run a course lab as configured (see 'kerasrnn presets'); other options override it.",
)


@click.command(context_settings=CONTEXT_SETTINGS)
@config_options(
    stand_ins={
        "dataset": [_dataset_option],
        "layout": [_pixel_option, _permuted_option],
        "preset": [_preset_option],
        "backend": [backend_option],
    }
)
@click.option(
    "--out", metavar="DIR", help="New run directory (default runs/<time>-<arch>-<dataset>); must not exist or be empty."
)
@click.option(
    "--resume",
    metavar="RUN",
    help="Continue an interrupted run from its last completed epoch, with the options of its config.json "
    "(but --lr, --epochs and --time-budget, which may change).",
)
@click.option(
    "--allow-changed-data",
    is_flag=True,
    help="With --resume: continue even though the data changed since the run began (a warning says so).",
)
@click.option(
    "--coordinator",
    metavar="HOST:PORT",
    envvar="KERAS_DISTRIBUTION_JOB_ADDRESSES",
    help="--distribute multi-worker on JAX: process 0's address (env KERAS_DISTRIBUTION_JOB_ADDRESSES).",
)
@click.option(
    "--num-processes",
    type=click.IntRange(min=1),
    envvar="KERAS_DISTRIBUTION_NUM_PROCESSES",
    help="--distribute multi-worker on JAX: processes in the job (env KERAS_DISTRIBUTION_NUM_PROCESSES).",
)
@click.option(
    "--process-id",
    type=click.IntRange(min=0),
    envvar="KERAS_DISTRIBUTION_PROCESS_ID",
    help="--distribute multi-worker on JAX: this process, 0 writes the run (env KERAS_DISTRIBUTION_PROCESS_ID).",
)
@quiet_option
@debug_option
@click.pass_context
def fit(ctx: click.Context, **options: Any) -> None:
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
      kerasrnn fit --resume runs/20260101-120000-bigru-mnist --lr 0.001 --epochs 30
    """
    if options["resume"]:
        _resume(ctx, options)
        return
    if options["allow_changed_data"]:
        raise ConfigError("--allow-changed-data applies to --resume RUN only (a new run reads its data afresh)")
    config = config_from_options(options)
    if options["out"]:
        check_new_run_dir(options["out"])
    _place_process(options)
    use_backend_distributed(options["backend"], config.distribute, config.devices)
    from kerasrnn.registry import preset
    from kerasrnn.training import fit as fit_run

    if config.preset:
        logger.info("preset %s: %s", config.preset, preset(config.preset)["description"])
    run = fit_run(config, out=options["out"], progress=not options["quiet"])
    _echo_final_line(run)


def _resume(ctx: click.Context, options: dict[str, Any]) -> None:
    flags = {param.name: param.opts[0] for param in ctx.command.params}
    extra = sorted(given_options(ctx) - RESUME_OPTIONS)
    if extra:
        raise ConfigError(
            "--resume continues a run with the options in its config.json; only "
            + ", ".join(flags[name] for name in RESUME_OVERRIDES)
            + " may change; drop "
            + ", ".join(flags.get(name, name) for name in extra)
        )
    check_run_dir(options["resume"])
    overrides = {name: options[name] for name in RESUME_OVERRIDES if options[name] is not None}
    if overrides:
        check_resume_overrides(options["resume"], overrides)
    _place_process(options)
    recorded = RunDir.open(options["resume"]).read_record().get("config") or {}
    use_backend_distributed(options["backend"], recorded.get("distribute"), recorded.get("devices"))
    from kerasrnn.training import resume

    run = resume(
        options["resume"],
        progress=not options["quiet"],
        overrides=overrides or None,
        allow_changed_data=options["allow_changed_data"],
    )
    _echo_final_line(run)


def _place_process(options: dict[str, Any]) -> None:
    """``--coordinator``, ``--num-processes``, ``--process-id`` into the environment Keras reads."""
    from kerasrnn.training import distribution

    names = {
        "coordinator": distribution.JOB_ADDRESSES_ENV,
        "num_processes": distribution.NUM_PROCESSES_ENV,
        "process_id": distribution.PROCESS_ID_ENV,
    }
    for name, variable in names.items():
        if options.get(name) is not None:
            os.environ[variable] = str(options[name])


def _echo_final_line(run: Any) -> None:
    """The final line; a process other than 0 of a multi-worker job wrote no run directory."""
    from kerasrnn.training import distribution

    placement = distribution.last_placement()
    if placement.num_processes > 1:  # the replicas' weights must agree: each process says what it holds
        click.echo(
            f"process {placement.process_id} of {placement.num_processes}: weights sha256 "
            f"{distribution.weights_digest()}",
            err=True,
        )
    if placement.is_chief:
        echo_final_line(run)
    else:
        click.echo(f"process {placement.process_id} of {placement.num_processes}: done (process 0 writes the run)")


def given_options(ctx: click.Context) -> set[str]:
    """The parameters the user gave (on the command line or in the environment)."""
    sources = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    return {param.name for param in ctx.command.params if ctx.get_parameter_source(param.name) in sources}


def config_from_options(options: dict[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of ``fit``'s options (a preset, overridden by the options given).

    The result is validated with :meth:`RunConfig.resolve` (which imports no
    Keras) and returned unresolved: :func:`kerasrnn.training.fit` resolves it.

    Raises:
        ConfigError: An unknown preset, architecture or data set, a missing
            input file, conflicting or invalid options.
    """
    from kerasrnn import registry
    from kerasrnn.training.run_config import RunConfig

    values: dict[str, Any] = {}
    if options.get("preset") is not None:
        values.update(registry.preset(options["preset"])["options"])
        values["preset"] = options["preset"]
    given_epochs, given_iterations = options.get("epochs") is not None, options.get("iterations") is not None
    if given_epochs and given_iterations:
        raise ConfigError(
            f"give --epochs ({options['epochs']}) or --iterations ({options['iterations']}), not both: "
            "iterations decide the number of epochs"
        )
    if given_epochs or given_iterations:  # the one given replaces the preset's other
        values.pop("iterations" if given_epochs else "epochs", None)
    for field in cli_fields(RunConfig):
        if options.get(field.name) is not None:
            values[field.name] = options[field.name]
    _set_dataset(values, options)
    if options.get("pixel") and options.get("permuted"):
        raise ConfigError("give --pixel or --permuted, not both")
    if options.get("pixel") or options.get("permuted"):
        values["layout"] = "pixel" if options["pixel"] else "permuted"
    config = RunConfig.from_dict(values)
    config.resolve()
    return config


def _set_dataset(values: dict[str, Any], options: dict[str, Any]) -> None:
    """``--dataset`` (a name or a file), ``--data``, ``--test-data``, ``--text`` -> ``dataset`` and files."""
    from kerasrnn.registry import DATASETS, FILE_DATASET, dataset_options

    dataset, data_file = options.get("dataset"), options.get("data_file")
    if data_file:
        if dataset not in (None, FILE_DATASET):
            raise ConfigError(f"give either --dataset {dataset} or --data {data_file}, not both")
        dataset = FILE_DATASET
    elif dataset is not None and dataset not in DATASETS and os.path.exists(dataset):
        dataset, values["data_file"] = FILE_DATASET, dataset
    if options.get("text_file") and dataset is None and "dataset" not in values:
        readers = dataset_options().get("text_file", set())
        if len(readers) == 1:  # --text FILE alone: the data set that reads it (shakespeare)
            dataset = next(iter(readers))
    if dataset is not None:
        values["dataset"] = dataset  # an unknown name is refused by RunConfig.resolve
    if values.get("data_file"):
        check_input_file(values["data_file"], "data file", directory_ok=True)
    if values.get("test_file"):
        check_input_file(values["test_file"], "test file")
    if values.get("text_file"):
        check_input_file(values["text_file"], "text file")
