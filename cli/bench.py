"""``kerasrnn bench``: training and predict throughput beside keras.layers.LSTM and torch.nn.LSTM.

Nothing heavy is imported here: the rows import Keras, the backends and
PyTorch in their own processes.

Exit codes: 0 every row ran; 1 some row failed (the table and the JSON are
still written, each failure in its row); 2 a usage error (unknown
architecture, backend or shape, bad numbers, an unwritable ``--out``).

The runner logs one line per finished row on the ``kerasrnn.bench`` logger,
which the CLI prints on stderr (:func:`kerasrnn.cli.output.cli_logging`).
"""

from __future__ import annotations

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command("bench", context_settings=CONTEXT)
@click.option(
    "--archs",
    default="all",
    show_default=True,
    metavar="LIST",
    help="kerasrnn architectures, comma separated, 'all', or 'none' (reference rows only).",
)
@click.option(
    "--backends",
    default="tensorflow,jax,torch",
    show_default=True,
    metavar="LIST",
    help="Keras backends, comma separated; each row runs in its own process.",
)
@click.option(
    "--shape",
    type=click.Choice(["default", "long", "wide"]),
    default="default",
    show_default=True,
    help="default: 28x28 hidden 128; long: 784x1 hidden 128; wide: 28x28 hidden 512 (batch 128).",
)
@click.option("--repeats", type=click.IntRange(min=1), help="Timed repeats; the median is reported. [default: 5]")
@click.option("--warmup", type=click.IntRange(min=0), help="Untimed repeats first (compilation). [default: 1]")
@click.option(
    "--batches", type=click.IntRange(min=1), help="Batches per repeat. [default: 30 default, 5 long, 10 wide]"
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write every raw figure, the machine and the versions as JSON.",
)
@click.option(
    "--no-reference",
    is_flag=True,
    help="Skip the keras.layers.LSTM/GRU and native torch.nn.LSTM/GRU rows (no ratios then).",
)
@click.option(
    "--references",
    metavar="LIST",
    help="Only these reference rows: keras.layers.LSTM, keras.layers.GRU, torch.nn.LSTM, torch.nn.GRU.",
)
@click.option("--tiny", is_flag=True, help="Smoke test: units 8, batch 16, 2 repeats, 3 batches (for CI).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic data and weights.")
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="Per row; a row past it is killed and reported as an error. [default: 1800, tiny 600]",
)
@click.option(
    "--torch-threads",
    type=click.IntRange(min=1),
    metavar="N",
    help="torch.set_num_threads for torch rows. [default: the usable CPUs]",
)
@click.option(
    "--units",
    type=click.IntRange(min=1),
    metavar="N",
    help="Hidden size of every row. [default: the shape's; convlstm keeps 16 filters]",
)
@click.option(
    "--jit-compile",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="model.compile(jit_compile=...) of every Keras row: auto is Keras' default (XLA on JAX, "
    "on TensorFlow only with a GPU; torch eager), on is XLA / torch.compile everywhere.",
)
@click.option(
    "--distribute",
    type=click.Choice(["none", "data-parallel"]),
    default="none",
    show_default=True,
    help="data-parallel: beside each architecture's row, one trained on --devices local devices "
    "(JAX DataParallel, TF MirroredStrategy; simulated on a CPU), same global batch; torch rows are skipped.",
)
@click.option(
    "--devices",
    type=click.IntRange(min=2),
    metavar="N",
    help="Local devices of the --distribute rows. [default: 2]",
)
@click.option(
    "--paired",
    is_flag=True,
    help="Each Keras row on the torch backend also trains native torch.nn.LSTM in its own process, one epoch "
    "after each of its own: an x torch ratio that drift of the machine's speed between rows does not skew.",
)
def bench_command(
    archs: str,
    backends: str,
    shape: str,
    repeats: int | None,
    warmup: int | None,
    batches: int | None,
    out: str | None,
    no_reference: bool,
    references: str | None,
    tiny: bool,
    seed: int,
    timeout: int | None,
    torch_threads: int | None,
    units: int | None,
    jit_compile: str,
    distribute: str,
    devices: int | None,
    paired: bool,
) -> None:
    """Training and predict samples/s and peak memory, beside keras.layers.LSTM and torch.nn.LSTM.

    Every row (an architecture on a backend, or a reference) runs in a process
    of its own on the same synthetic data (10 classes, Adam). The table gives
    each row's throughput divided by native torch.nn.LSTM's and by
    keras.layers.LSTM's on the same backend.

    \b
    Examples:
      kerasrnn bench --out bench.json                      # every arch, 3 backends
      kerasrnn bench --archs lstm,mut1 --backends jax --shape long
      kerasrnn bench --tiny --archs lstm --backends torch  # seconds, for CI
      kerasrnn bench --archs peephole-lstm,gru --backends torch --paired  # ratios robust to drift
      kerasrnn bench --archs lstm,mut1 --backends jax,tensorflow --distribute data-parallel --devices 2
    """
    from kerasrnn.cli.backend import use_backend

    use_backend(None, load=False)  # the rows import Keras, each in its own process
    from kerasrnn.bench.report import format_table
    from kerasrnn.bench.runner import BenchError, run_bench

    if no_reference and references:
        raise click.UsageError("--no-reference and --references exclude each other")
    if devices is not None and distribute == "none":
        raise click.UsageError("--devices needs --distribute data-parallel")
    try:
        result = run_bench(
            archs=archs,
            backends=backends,
            shape=shape,
            repeats=repeats,
            warmup=warmup,
            batches=batches,
            references=False if no_reference else (references or True),
            tiny=tiny,
            seed=seed,
            timeout=timeout,
            torch_threads=torch_threads,
            units=units,
            jit_compile=jit_compile,
            distribute=distribute,
            devices=devices,
            paired=paired,
            out=out,
        )
    except BenchError as error:
        raise click.UsageError(str(error)) from None
    click.echo(format_table(result))
    if out:
        click.echo(f"JSON: {out}", err=True)
    if result["failed"]:
        raise click.ClickException(f"{len(result['failed'])} of {len(result['rows'])} rows failed")
