"""The cell x task table: which architecture remembers how far, on the same training time each.

Usage::

    KERAS_BACKEND=jax python benchmarks/memory_tasks.py --budget 45 --out runs/memory-tasks \\
        [--archs lstm gru mut1 ind-rnn min-gru min-lstm tcn] [--tasks adding100 adding400 copy100 pmnist]

Every cell is one ``kerasrnn fit`` run (a fresh process, seed 0, the data
set's defaults otherwise) with ``--time-budget BUDGET`` and no epoch limit, so
the budget alone decides how long each architecture trains; a run is cut in
the middle of an epoch when the budget runs out. ``tcn`` gets as many residual
blocks as its receptive field needs to cover the sequence (5 blocks: 125
steps, 7: 509, 8: 1021). The table gives each run's headline test metric with
the task's baseline in the header, and the training seconds and epochs.

Tasks:

* ``adding100``, ``adding400``: ``--dataset adding --length T``, test MSE
  (answering 1 scores 0.167);
* ``copy100``: ``--dataset copy --length 100``, test cross-entropy over all
  steps (the memoryless strategy scores 10 log 8 / 120 = 0.173) and the
  accuracy on the 10 copied symbols (chance 0.125);
* ``pmnist``: ``--dataset mnist --permuted`` (784 steps of one pixel, mnist-10k
  split), test accuracy.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TASKS = {
    "adding100": (["--dataset", "adding", "--length", "100"], 5),
    "adding400": (["--dataset", "adding", "--length", "400"], 7),
    "copy100": (["--dataset", "copy", "--length", "100"], 5),
    "pmnist": (["--dataset", "mnist", "--permuted", "--augment-shift", "0"], 8),
}
ARCHS = ("lstm", "gru", "mut1", "ind-rnn", "min-gru", "min-lstm", "tcn")
HEADERS = {
    "adding100": "adding T=100 test MSE (answering 1: 0.167)",
    "adding400": "adding T=400 test MSE (answering 1: 0.167)",
    "copy100": "copy T=100 test loss (memoryless 0.173) / copied-symbol acc.",
    "pmnist": "permuted MNIST test acc.",
}


def headline(task: str, metrics: dict) -> str:
    if task.startswith("adding"):
        return f"{metrics['test_mse']:.4f}"
    if task == "copy100":
        return f"{metrics['test_loss']:.4f} / {metrics['test_copy_accuracy']:.3f}"
    return f"{metrics['test_accuracy']:.4f}"


def run(arch: str, task: str, budget: float, out: Path) -> dict:
    options, tcn_blocks = TASKS[task]
    directory = out / f"{task}-{arch}"
    if not (directory / "metrics.json").exists():
        command = [sys.executable, "-m", "kerasrnn.cli", "fit", "--arch", arch, *options]
        command += ["--iterations", "100000000", "--time-budget", str(budget), "--seed", "0", "--quiet"]
        command += ["--out", str(directory)]
        if arch == "tcn":
            command += ["--layers", str(tcn_blocks)]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            return {"error": (result.stderr.strip().splitlines() or ["?"])[-1], "wall": wall}
    return json.loads((directory / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=45.0, help="seconds of training per run")
    parser.add_argument("--archs", nargs="+", default=list(ARCHS))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--out", type=Path, default=Path("runs/memory-tasks"))
    args = parser.parse_args()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"backend {backend}, {args.budget:g} s of training per run, seed 0, load {os.getloadavg()[0]:.2f}")
    print("| arch | " + " | ".join(HEADERS[task] for task in args.tasks) + " |")
    print("|---" * (len(args.tasks) + 1) + "|")
    for arch in args.archs:
        cells = []
        for task in args.tasks:
            metrics = run(arch, task, args.budget, args.out)
            if "error" in metrics:
                cells.append(f"failed: {metrics['error']}")
            else:
                cells.append(
                    f"{headline(task, metrics)} ({metrics.get('train_seconds', 0):.0f} s, "
                    f"{metrics.get('iterations', '?')} steps)"
                )
        print(f"| {arch} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
