"""Where a Keras ``fit`` step's time goes on the torch backend, beside the same step in a PyTorch loop.

Run on a quiet machine::

    KERAS_BACKEND=torch python benchmarks/keras_step_overhead.py [--arch lstm] [--batches 30] [--epochs 3]

Three measurements, each in milliseconds per training step (batch 128 of
28 x 28 inputs, 10 classes, Adam):

1. ``fit``: ``model.fit`` of the architecture's model (kerasrnn.build_model),
   as ``kerasrnn bench`` times it;
2. the same model's steps driven by hand with the pieces Keras' torch
   trainer runs (forward, loss, loss tracker, backward, ``optimizer.apply``,
   metrics), each timed: what is left of ``fit`` after them is the epoch
   iterator, the data adapter and the callbacks;
3. the floor: a model with no recurrence (``Flatten`` + ``Dense``) under
   ``fit``, and the same model in a PyTorch loop (``torch.nn.Linear``,
   ``torch.optim.Adam``).

The difference in (3) is what Keras' trainer adds to every step whatever the
model; kerasrnn's cells cannot win it back.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

BATCH, STEPS, FEATURES, CLASSES = 128, 28, 28, 10


def _data(batches: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH * batches, STEPS, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, BATCH * batches).astype("int32")
    return x, y


def _compiled(model):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _fit_ms(model, x, y, epochs: int) -> float:
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)  # warm-up
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, shuffle=False)
    return (time.perf_counter() - start) / (epochs * (len(x) // BATCH)) * 1e3


def _stages_ms(model, x, y, epochs: int) -> dict[str, float]:
    """The torch trainer's train_step, stage by stage (keras/src/backend/torch/trainer.py)."""
    import torch

    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    stages = dict.fromkeys(("forward", "loss", "loss tracker", "backward", "optimizer", "metrics"), 0.0)
    steps = epochs * (len(x) // BATCH)
    clock = time.perf_counter
    for _ in range(epochs):
        for i in range(len(x) // BATCH):
            xb, yb = xs[i * BATCH : (i + 1) * BATCH], ys[i * BATCH : (i + 1) * BATCH]
            t0 = clock()
            y_pred = model(xb, training=True)
            t1 = clock()
            model.zero_grad()
            loss = model._compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=None, training=True)
            t2 = clock()
            model._loss_tracker.update_state(loss, sample_weight=BATCH)
            t3 = clock()
            loss.backward()
            t4 = clock()
            weights = model.trainable_weights[:]
            with torch.no_grad():
                model.optimizer.apply([v.value.grad for v in weights], weights)
            t5 = clock()
            model.compute_metrics(xb, yb, y_pred, sample_weight=None)
            t6 = clock()
            for name, (a, b) in zip(stages, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6))):
                stages[name] += (b - a) / steps * 1e3
    return stages


def _torch_floor_ms(x, y, epochs: int) -> float:
    import torch

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(STEPS * FEATURES, CLASSES))
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs, ys = torch.from_numpy(x), torch.from_numpy(y).long()

    def epoch():
        for i in range(len(x) // BATCH):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(xs[i * BATCH : (i + 1) * BATCH]), ys[i * BATCH : (i + 1) * BATCH]).backward()
            optimizer.step()

    epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return (time.perf_counter() - start) / (epochs * (len(x) // BATCH)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="lstm", help="a kerasrnn architecture (default lstm)")
    parser.add_argument("--batches", type=int, default=30, help="batches per epoch (default 30)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (default 3)")
    args = parser.parse_args()

    import keras
    import torch

    import kerasrnn
    from kerasrnn.training import host_memory

    if keras.backend.backend() != "torch":
        raise SystemExit(f"KERAS_BACKEND is {keras.backend.backend()}; this measures the torch backend")
    host_memory.keep_freed_memory()  # as the CLI and every bench row run
    x, y = _data(args.batches)
    print(f"torch {torch.__version__}, keras {keras.__version__}, {torch.get_num_threads()} threads, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    model = _compiled(kerasrnn.build_model(args.arch, "classification", (STEPS, FEATURES), CLASSES, units=128))
    fit = _fit_ms(model, x, y, args.epochs)
    stages = _stages_ms(model, x, y, args.epochs)
    print(f"{args.arch}: fit {fit:.2f} ms/step")
    for name, value in stages.items():
        print(f"  {name:13s} {value:6.2f}")
    print(f"  {'rest of fit':13s} {fit - sum(stages.values()):6.2f}  (epoch iterator, data adapter, callbacks)")
    inputs = keras.Input((STEPS, FEATURES))
    floor = _compiled(
        keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(keras.layers.Flatten()(inputs)))
    )
    keras_floor, torch_floor = _fit_ms(floor, x, y, args.epochs), _torch_floor_ms(x, y, args.epochs)
    print(f"floor (Flatten + Dense): Keras fit {keras_floor:.2f} ms/step, PyTorch loop {torch_floor:.2f} ms/step, "
          f"difference {keras_floor - torch_floor:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
