"""--distribute: data-parallel steps equal one device's; the pieces (worker rows, checks, torch) on their own.

The equivalence runs in a subprocess per backend, because the simulated
devices (JAX: ``XLA_FLAGS``; TensorFlow: logical CPU devices) must be asked
for before the backend starts: a few steps of lstm, bimut1, layer-norm-lstm
(dropout on) and conv-lstm with one global batch of 16, on one device and on
two, and the epoch loss and every weight compared.  Tolerance: 1e-5 for the
losses, 5e-5 for the weights (float32 sums reduced in a different order;
measured: ~1e-7, bimut1's weights ~1e-5 on JAX).  On
TensorFlow, dropout masks are drawn per replica, so layer-norm-lstm with
dropout is an expected failure there (docs/distribution.md says so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from kerasrnn.errors import ConfigError
from kerasrnn.training import distribution
from kerasrnn.training.run_config import RunConfig

TOLERANCE = 1e-5  # the epoch losses
WEIGHT_TOLERANCE = 5e-5  # every weight (measured: bimut1 ~1e-5 on JAX, the others ~1e-7)
ARCHS = {"lstm": 0.0, "bimut1": 0.0, "layer-norm-lstm": 0.3, "conv-lstm": 0.0}

EQUIVALENCE_SCRIPT = r"""
import json, os, sys
from types import SimpleNamespace
backend = os.environ["KERAS_BACKEND"]
from kerasrnn.training import distribution
distribution.prepare_environment("data-parallel", 2, backend)
import keras, numpy as np
from kerasrnn.training.inputs import ShuffledBatches
from kerasrnn.training.model import build_and_compile
from kerasrnn.training.run_config import RunConfig

rng = np.random.default_rng(0)
x = rng.normal(size=(48, 6, 4)).astype("float32")
y = (x[:, :, 0].sum(axis=1) > 0).astype("int64")
data = SimpleNamespace(task="classification", input_shape=(6, 4), variable_length=False, num_outputs=2, x_train=x)
results = {}
for arch, dropout in json.loads(sys.argv[1]).items():
    config = RunConfig(arch=arch, units=8, dropout=dropout, lr=0.01, batch_size=16, epochs=1)
    runs = {}
    for mode, devices in (("none", None), ("data-parallel", 2)):
        keras.utils.set_random_seed(0)
        with distribution.activate(mode, devices, seed=0) as placement:
            model = build_and_compile(config, data)
            batches = ShuffledBatches(x, y, 16, seed=0)
            set_epoch = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: setattr(batches, "epoch", epoch))
            history = model.fit(  # the epoch set as the trainer's EpochSetup does: it decides the order
                distribution.fit_input(batches), epochs=2, shuffle=False, verbose=0, callbacks=[set_epoch]
            )
            runs[mode] = (history.history["loss"], model.get_weights(), placement.replicas)
    (loss_1, weights_1, _), (loss_2, weights_2, replicas) = runs["none"], runs["data-parallel"]
    results[arch] = {
        "replicas": replicas,
        "loss": max(abs(a - b) for a, b in zip(loss_1, loss_2)),
        "weights": max(float(np.max(np.abs(a - b))) for a, b in zip(weights_1, weights_2)),
        "moved": max(float(np.max(np.abs(a))) for a in weights_1),
    }
print("RESULTS " + json.dumps(results))
"""


def _backend() -> str:
    import keras

    return keras.backend.backend()


@pytest.fixture(scope="module")
def equivalence() -> dict:
    backend = _backend()
    if backend == "torch":
        pytest.skip("torch has no Keras distribution backend (tested below: a ConfigError)")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)
    done = subprocess.run(
        [sys.executable, "-c", EQUIVALENCE_SCRIPT, json.dumps(ARCHS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULTS ") :])


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_data_parallel_steps_equal_one_device(equivalence, arch):
    result = equivalence[arch]
    if ARCHS[arch] and _backend() == "tensorflow" and result["loss"] > TOLERANCE:
        # MirroredStrategy: every replica draws dropout masks for its own rows from the same seed state,
        # so the masks differ from one device's (JAX draws one mask for the global batch).
        pytest.xfail(f"TensorFlow replicas draw their own dropout masks (loss differs by {result['loss']:.2g})")
    assert result["replicas"] == 2
    assert result["loss"] <= TOLERANCE, result
    assert result["weights"] <= WEIGHT_TOLERANCE, result


# --------------------------------------------------------------------------- #
# The pieces, without a backend
# --------------------------------------------------------------------------- #


class _Batches:
    batch_size = 8

    def __init__(self):
        self.x = np.arange(32 * 2).reshape(32, 2)

    def __len__(self):
        return 4

    def __getitem__(self, index):
        rows = self.x[index * 8 : (index + 1) * 8]
        return rows, rows[:, 0]


@pytest.mark.backend_independent
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_workers_together_see_each_global_batch_once(workers):
    batches = _Batches()
    shards = [distribution.WorkerShard(batches, rank, workers) for rank in range(workers)]
    for index in range(len(batches)):
        pieces = [shard[index][0] for shard in shards]
        assert all(len(piece) == 8 // workers for piece in pieces)
        np.testing.assert_array_equal(np.concatenate(pieces), batches[index][0])


@pytest.mark.backend_independent
def test_global_batch_must_split_over_replicas():
    placement = distribution.Placement(mode="data-parallel", replicas=3)
    with pytest.raises(ConfigError, match="multiple of the 3 replicas"):
        distribution.check_batch(16, placement)
    distribution.check_batch(15, placement)
    distribution.check_batch(7, distribution.Placement())  # one device: anything


@pytest.mark.backend_independent
def test_linear_lr_scaling_only_when_asked():
    two = distribution.Placement(mode="data-parallel", replicas=2)
    assert distribution.scaled_lr(0.01, "none", two) == 0.01
    assert distribution.scaled_lr(0.01, "linear", two) == pytest.approx(0.02)
    assert distribution.scaled_lr(0.01, "linear", distribution.Placement()) == 0.01


@pytest.mark.backend_independent
def test_options_are_checked():
    with pytest.raises(ConfigError, match="distribute"):
        RunConfig(distribute="all").resolve()
    with pytest.raises(ConfigError, match="devices"):
        RunConfig(distribute="data-parallel", devices=0).resolve()
    with pytest.raises(ConfigError, match="scale_lr"):
        RunConfig(scale_lr="sqrt").resolve()
    with pytest.raises(ConfigError, match="apply with --distribute"):
        RunConfig(devices=2).resolve()
    RunConfig(distribute="data-parallel", devices=2, scale_lr="linear").resolve()


@pytest.mark.backend_independent
def test_prepare_environment(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    distribution.prepare_environment("data-parallel", 3, "jax")
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_force_host_platform_device_count=3"
    with pytest.raises(ConfigError, match="no torch distribution backend"):
        distribution.prepare_environment("data-parallel", None, "torch")
    distribution.prepare_environment("none", None, "torch")  # nothing to refuse


def test_placement_outside_activate_is_one_device():
    with distribution.activate("none") as placement:
        assert not placement.distributed and placement.is_chief
        assert distribution.fit_input(batches := _Batches()) is batches
        model = SimpleNamespace(evaluate=None)
        assert distribution.adapt_model(model, build=None) is model


def test_torch_refuses_distribute():
    if _backend() != "torch":
        pytest.skip("the torch refusal needs the torch backend")
    with pytest.raises(ConfigError, match="Keras 3 has no torch distribution backend"):
        with distribution.activate("data-parallel", 2):
            pass


def test_torch_fit_distribute_is_a_usage_error(tmp_path):
    if _backend() != "torch":
        pytest.skip("the torch refusal needs the torch backend")
    from click.testing import CliRunner

    from kerasrnn.cli.main import main

    x = np.zeros((8, 3, 2), dtype="float32")
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros(8, dtype="int64"))
    args = ["fit", "--data", str(tmp_path / "d.npz"), "--distribute", "data-parallel", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert "Keras 3 has no torch distribution backend" in result.output
    assert not (tmp_path / "run").exists()
