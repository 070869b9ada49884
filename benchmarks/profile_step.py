"""Where a training step's time goes, for one architecture on the Keras backend in use.

Usage::

    KERAS_BACKEND=torch python benchmarks/profile_step.py --arch peephole-lstm [--units 128]

The bench (``kerasrnn bench``) says how fast; this says why. For the bench's
default shape (batch 128, 28 steps x 28 features, Adam), one process, it
prints:

1. The split of one compiled training step: forward pass (the model's
   compiled ``predict_on_batch``), and the rest (backward pass plus optimizer
   update) = train step - forward. Medians of 20 steps after warm-up.
2. The work: multiply-add FLOPs of the recurrent matmuls per sample (the bulk
   of a step; forward = 2 x (features + units) x (gates x units) x steps,
   training about 3x that), and the GFLOP/s the step achieves, beside the
   GFLOP/s of the *same matmuls* run back to back with no recurrence in
   between (one ``(batch, features + units) @ (features + units, gates x
   units)`` per step): the ceiling the matmul library gives on this machine.
   The gap between the two is the recurrence's own cost: per-step dispatch
   of small element-wise ops, the loop machinery and the backward pass
   through the loop.
3. On the torch backend, ``torch.profiler``'s top operators by self CPU time
   of 5 training steps (the eager loop's per-op costs are visible there). On
   JAX, where the whole step is one compiled program, the XLA operations it
   executed (``jax.profiler``'s trace of 5 steps): how many per step, and the
   top ones by time, each with its count per step (an op inside the time
   loop runs once per time step). On TensorFlow, the split above only.
"""

import argparse
import collections
import gzip
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasrnn  # noqa: E402
from kerasrnn.training import host_memory  # noqa: E402

# Architecture (unidirectional) -> gate blocks in its fused recurrent matmul (units wide each).
# ind-rnn, min-gru and min-lstm have no recurrent matmul (element-wise recurrences), conv-lstm a
# convolution: the FLOP lines are left out for them.
GATES = {
    "rnn": 1,
    "rnn-relu": 1,
    "lstm": 4,
    "peephole-lstm": 4,
    "layer-norm-lstm": 4,
    "gru": 3,
    "gru-cudnn": 3,
    "mut1": 2,
    "mut2": 3,
    "mut3": 3,
    "mgu": 2,
    "nas": 8,
    "layer-norm-gru": 3,
    "layer-norm-simple-rnn": 1,
    "esn": 1,
    "ind-rnn": 0,
    "min-gru": 0,
    "min-lstm": 0,
    "conv-lstm": 0,
}


def _median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sync(value):
    keras.ops.convert_to_numpy(keras.tree.flatten(value)[0])


def matmul_ceiling(batch, width, out, steps, repeats):
    """Seconds of ``steps`` independent matmuls of the step's shape (forward only)."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.normal(size=(steps, batch, width)).astype("float32"))
    w = keras.ops.convert_to_tensor(rng.normal(size=(width, out)).astype("float32"))
    if keras.backend.backend() == "jax":
        import jax

        run = jax.jit(lambda a, w: [a[t] @ w for t in range(steps)])
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        run = tf.function(lambda a, w: [tf.matmul(a[t], w) for t in range(steps)])
    else:

        def run(a, w):
            return [a[t] @ w for t in range(steps)]

    _sync(run(a, w))
    return _median_seconds(lambda: _sync(run(a, w)), repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="lstm", choices=sorted(GATES))
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=28)
    parser.add_argument("--features", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    host_memory.keep_freed_memory()  # as `kerasrnn bench` runs its rows
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(len(os.sched_getaffinity(0)))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.steps, args.features)).astype("float32")
    y = rng.integers(0, 10, size=args.batch)
    model = kerasrnn.build_model(args.arch, "classification", (args.steps, args.features), 10, units=args.units)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    for _ in range(3):  # warm-up: traces and compiles both functions
        model.train_on_batch(x, y)
        model.predict_on_batch(x)

    train = _median_seconds(lambda: model.train_on_batch(x, y), args.repeats)
    forward = _median_seconds(lambda: model.predict_on_batch(x), args.repeats)
    gates = GATES[args.arch]

    print(
        f"{args.arch} on {backend}, batch {args.batch}, {args.steps} steps x {args.features} features, "
        f"{args.units} units"
    )
    print(f"  train step      {train * 1e3:8.2f} ms  ({args.batch / train:,.0f} samples/s)")
    print(f"  forward         {forward * 1e3:8.2f} ms  ({forward / train:.0%} of the step)")
    print(f"  backward + Adam {(train - forward) * 1e3:8.2f} ms  ({(train - forward) / train:.0%})")
    if gates:
        print_matmul_work(args, gates, train, forward)

    if backend == "torch":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                model.train_on_batch(x, y)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    elif backend == "jax":
        print_xla_operations(lambda: model.train_on_batch(x, y), steps=5)


def print_xla_operations(train_step, steps, top=12):
    """The XLA operations of ``steps`` training steps, from ``jax.profiler``'s Perfetto trace."""
    import jax

    with tempfile.TemporaryDirectory() as directory:
        with jax.profiler.trace(directory, create_perfetto_trace=True):
            for _ in range(steps):
                train_step()
        trace = json.load(gzip.open(next(Path(directory).rglob("*.trace.json.gz"))))
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    seconds, counts = collections.Counter(), collections.Counter()
    for event in events:
        name = event.get("name", "")
        # Complete events of executed operations; not Python frames ($...), executor or wait spans.
        if event.get("ph") != "X" or name.startswith("$") or "Execute" in name or "Await" in name:
            continue
        if "PjitFunction" in name or name.startswith("while"):  # spans that contain other operations
            continue
        seconds[name] += event.get("dur", 0) / 1e6
        counts[name] += 1
    total = sum(seconds.values()) / steps
    print(
        f"  XLA operations per step: {sum(counts.values()) / steps:,.0f}, "
        f"{total * 1e3:.2f} ms summed (operations on both cores each counted)"
    )
    for name, value in seconds.most_common(top):
        print(f"    {value / steps * 1e3:7.2f} ms  {counts[name] / steps:5.0f}x  {name}")


def print_matmul_work(args, gates, train, forward):
    width, out = args.features + args.units, gates * args.units
    flops_forward = 2 * width * out * args.steps  # per sample
    ceiling = matmul_ceiling(args.batch, width, out, args.steps, args.repeats)
    print(
        f"  recurrent matmul work: {flops_forward / 1e6:.2f} MFLOP/sample forward, "
        f"~{3 * flops_forward / 1e6:.2f} training"
    )
    print(
        f"  achieved: forward {args.batch * flops_forward / forward / 1e9:6.1f} GFLOP/s, "
        f"training {args.batch * 3 * flops_forward / train / 1e9:6.1f} GFLOP/s"
    )
    print(
        f"  same matmuls alone, back to back: {ceiling * 1e3:.2f} ms = "
        f"{args.batch * flops_forward / ceiling / 1e9:.1f} GFLOP/s (the forward pass is "
        f"{forward / ceiling:.1f}x that)"
    )


if __name__ == "__main__":
    main()
