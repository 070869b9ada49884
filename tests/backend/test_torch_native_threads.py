"""The C++ step kernels split across PyTorch's threads (``native/parallel.h``).

A kernel call large enough (``kParallelWork`` element updates) splits its
batch rows among the OpenMP threads ``torch.set_num_threads`` sets; the
other kernel tests use small shapes, which stay on one thread. Checked here,
at shapes that split, for every cell with C++ kernels: outputs
and the gradients of the inputs and of every weight (those that sum over the
batch rows go through per-thread copies) against the same layer with the
kernels refused (PyTorch ops only) at the same thread count.
"""

import numpy as np
import pytest

from kerasrnn import layers
from tests.helpers.torch_kernels import REQUIRES_KERNELS

pytestmark = REQUIRES_KERNELS

BATCH, TIME, FEATURES, UNITS = 64, 5, 7, 64
LAYERS = {
    "peephole_lstm": lambda: layers.PeepholeLSTM(UNITS, return_sequences=True, dtype="float64"),
    "layer_norm_lstm": lambda: layers.LayerNormLSTM(UNITS, return_sequences=True, dtype="float64"),
    "gru": lambda: layers.GRU(UNITS, reset_after=False, return_sequences=True, dtype="float64"),
    "mut1": lambda: layers.MUT1(UNITS, return_sequences=True, dtype="float64"),
    "mut3": lambda: layers.MUT3(UNITS, return_sequences=True, dtype="float64"),
    "mgu": lambda: layers.MGU(UNITS, return_sequences=True, dtype="float64"),
    "ind_rnn": lambda: layers.IndRNN(UNITS, return_sequences=True, dtype="float64"),
    "nas": lambda: layers.NAS(UNITS, return_sequences=True, dtype="float64"),
    "layer_norm_gru": lambda: layers.LayerNormGRU(UNITS, return_sequences=True, dtype="float64"),
    "layer_norm_simple_rnn": lambda: layers.LayerNormSimpleRNN(UNITS, return_sequences=True, dtype="float64"),
    "min_gru": lambda: layers.MinGRU(UNITS, return_sequences=True, dtype="float64"),
    "min_lstm": lambda: layers.MinLSTM(UNITS, return_sequences=True, dtype="float64"),
    "conv_lstm_2d": lambda: layers.ConvLSTM2D(16, 3, padding="same", return_sequences=True, dtype="float64"),
}
# ConvLSTM: 8 sequences of 6 x 6 frames with 3 channels, 16 filters (8 rows of 576 element updates).
SHAPES = {"conv_lstm_2d": (8, TIME, 6, 6, 3)}


@pytest.fixture
def threads():
    """Sets PyTorch's thread count for the test and restores it."""
    import torch

    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def _layer(name):
    layer = LAYERS[name]()
    shape = SHAPES.get(name, (BATCH, TIME, FEATURES))
    layer.build(shape)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(scale=0.3, size=w.shape) for w in layer.get_weights()])
    x = np.random.default_rng(1).normal(size=shape)
    return layer, x


def _run(layer, x):
    """Outputs and the gradients of their weighted sum w.r.t. the inputs and every weight."""
    import torch

    x = torch.tensor(x, requires_grad=True)
    outputs = layer(x)
    weights = torch.tensor(np.random.default_rng(2).normal(size=tuple(outputs.shape)))
    (outputs * weights).sum().backward()
    grads = [x.grad] + [v.value.grad for v in layer.trainable_variables]
    results = [outputs.detach().numpy()] + [g.numpy().copy() for g in grads]
    for v in layer.trainable_variables:
        v.value.grad = None
    return results


@pytest.fixture
def kernels_fetched(monkeypatch):
    """Names of the C++ kernels the native Functions fetched."""
    from kerasrnn.backend.torch import native_cells

    names = []
    original = native_cells._kernel

    def fetch(name, dtype):
        names.append(name)
        return original(name, dtype)

    monkeypatch.setattr(native_cells, "_kernel", fetch)
    return names


def test_large_calls_split_and_small_ones_do_not(threads):
    from kerasrnn.backend.torch import native_library

    library = native_library.library()
    threads(2)
    assert library.kernel_threads(BATCH, BATCH * UNITS) == 2
    assert library.kernel_threads(1, 10**6) == 1  # one row: nothing to split
    assert library.kernel_threads(BATCH, 100) == 1  # too little work to wake a thread for
    threads(1)
    assert library.kernel_threads(BATCH, BATCH * UNITS) == 1


@pytest.mark.parametrize("name", list(LAYERS))
def test_split_calls_match_pytorch_ops(name, threads, kernels_fetched, monkeypatch):
    from kerasrnn.backend.torch import native_cells, native_library

    layer, x = _layer(name)
    threads(2)
    assert native_library.library().kernel_threads(BATCH, BATCH * UNITS) == 2
    split = _run(layer, x)
    assert kernels_fetched, f"{name} did not run the C++ kernels"
    # The same thread count: PyTorch's own reductions (layer_norm's gamma gradient) differ by thread count.
    monkeypatch.setattr(native_cells, "supports", lambda *tensors: False)
    reference = _run(layer, x)
    for got, want in zip(split, reference, strict=True):
        # float32 closeness: the reference's keras.ops.matmul computes float64 operands in float32 on torch.
        # A row split wrongly (a block at the wrong offset, a sum counted twice) is off by far more.
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * scale)
