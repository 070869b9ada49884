"""Training throughput of MinGRU / MinLSTM by the parallel scan and by the step loop, beside GRU and LSTM.

Usage::

    KERAS_BACKEND=jax python benchmarks/scan_throughput.py [--lengths 128 1024 4096] [--units 128]

For each sequence length T, one model per row: ``Input((T, features))`` ->
recurrent layer (last output) -> ``Dense(1)``, MSE, Adam, trained with
``train_on_batch`` on one fixed random batch (Keras compiles the step:
``jit_compile="auto"``). Rows:

* ``min-gru scan``, ``min-lstm scan``: ``MinGRU`` / ``MinLSTM``, the default
  (log-space associative scan over time);
* ``min-gru steps``, ``min-lstm steps``: the same layers with
  ``parallel_scan=False`` (Keras' step loop over the cell);
* ``gru``, ``lstm``: kerasrnn's ``GRU`` / ``LSTM`` (Keras' layers with the
  backends' fused kernels where there are some).

It prints the median seconds of a training step (after ``--warmup`` steps,
over ``--repeats``) and the training throughput in sequences per second
(batch / median step). A row whose first step (compilation included) takes
longer than ``--max-first-step`` seconds is reported as skipped for the longer
lengths, so a slow step loop cannot hold the run for hours.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasrnn import layers  # noqa: E402

ROWS = {
    "min-gru scan": lambda units: layers.MinGRU(units),
    "min-gru steps": lambda units: layers.MinGRU(units, parallel_scan=False),
    "min-lstm scan": lambda units: layers.MinLSTM(units),
    "min-lstm steps": lambda units: layers.MinLSTM(units, parallel_scan=False),
    "gru": lambda units: layers.GRU(units),
    "lstm": lambda units: layers.LSTM(units),
}


def step_seconds(make_layer, length, args):
    """(first step seconds, median step seconds) of one training step at this length."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((length, args.features)), make_layer(args.units), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, length, args.features)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    start = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - start
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss = model.train_on_batch(x, y)
        float(np.asarray(loss))  # wait for the step
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 1024, 4096])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--max-first-step", type=float, default=300.0)
    args = parser.parse_args()

    print(
        f"backend {keras.backend.backend()}, batch {args.batch}, units {args.units}, "
        f"features {args.features}, median of {args.repeats} training steps"
    )
    header = f"{'layer':<16}" + "".join(f"{'T=' + str(t) + ' seq/s':>16}{'step ms':>10}" for t in args.lengths)
    print(header)
    print("-" * len(header))
    for name in args.rows:
        cells, too_slow = [], False
        for length in args.lengths:
            if too_slow:
                cells.append(f"{'skipped':>16}{'':>10}")
                continue
            first, median = step_seconds(ROWS[name], length, args)
            too_slow = first > args.max_first_step
            cells.append(f"{args.batch / median:>16.1f}{1000 * median:>10.1f}")
        print(f"{name:<16}" + "".join(cells), flush=True)


if __name__ == "__main__":
    main()
