"""The torch backend's ConvLSTM recurrence (``native_cells.ConvLSTMNative``) against the layers' generic loop.

Checked on the same weights (random peepholes where there are any): outputs,
final states and the gradients of the frames and every weight, ConvLSTM1D
and ConvLSTM2D, with and without peepholes, "same" and "valid" input
padding, channels last and first, forwards and backwards, float32 and
float64 (where the generic loop is the reference: both run PyTorch's
convolutions); an even recurrent kernel, a mask and recurrent dropout fall
back.
"""

import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.helpers.torch_kernels import REQUIRES_KERNELS

pytestmark = REQUIRES_KERNELS

CASES = {
    "1d-same": (layers.ConvLSTM1D, (3, 5, 7, 2), {"kernel_size": 3, "padding": "same"}),
    "1d-valid-no-peephole": (layers.ConvLSTM1D, (3, 5, 7, 2), {"kernel_size": 3, "peephole": False}),
    "1d-channels-first": (layers.ConvLSTM1D, (3, 5, 2, 7), {"kernel_size": 5, "data_format": "channels_first"}),
    "2d-same": (layers.ConvLSTM2D, (2, 4, 5, 6, 2), {"kernel_size": 3, "padding": "same"}),
    "2d-3x1": (layers.ConvLSTM2D, (2, 4, 5, 6, 2), {"kernel_size": (3, 1)}),
}


def _layer(case, dtype="float32", **options):
    cls, shape, case_options = CASES[case]
    layer = cls(4, return_sequences=True, return_state=True, dtype=dtype, **case_options, **options)
    layer.build(shape)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(scale=0.4, size=w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _run(layer, shape, dtype="float32", training=False):
    import torch

    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=shape).astype(dtype), requires_grad=True)
    results = layer(x, training=training)
    loss = sum((r * torch.tensor(rng.normal(size=tuple(r.shape)).astype(dtype))).sum() for r in results)
    grads = torch.autograd.grad(loss, [x, *(v.value for v in layer.trainable_variables)])
    return [r.detach().numpy() for r in results] + [g.numpy() for g in grads]


@pytest.fixture
def served(monkeypatch):
    from kerasrnn.backend.torch import native_cells

    calls = []
    original = native_cells.ConvLSTMNative.apply
    monkeypatch.setattr(native_cells.ConvLSTMNative, "apply", lambda *args: calls.append(1) or original(*args))
    return calls


def _refused(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_generic_loop(case, go_backwards, dtype, served, monkeypatch):
    layer = _layer(case, dtype, go_backwards=go_backwards)
    shape = CASES[case][1]
    fast = _run(layer, shape, dtype)
    assert served == [1]
    monkeypatch.setattr(fast_paths, "conv_lstm", _refused)
    loop = _run(layer, shape, dtype)
    assert len(fast) == 4 + len(layer.trainable_variables)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(fast, loop):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * max(1.0, float(np.abs(want).max())))


def test_input_dropout_matches_generic_loop(served, monkeypatch):
    shape = CASES["2d-same"][1]
    fast = _run(_layer("2d-same", dropout=0.4, seed=3), shape, training=True)
    assert served == [1]
    monkeypatch.setattr(fast_paths, "conv_lstm", _refused)
    loop = _run(_layer("2d-same", dropout=0.4, seed=3), shape, training=True)
    for got, want in zip(fast, loop):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))


def test_even_kernels_masks_and_recurrent_dropout_fall_back(served):
    import torch

    cls, shape, options = CASES["1d-same"]
    x = torch.tensor(np.random.default_rng(2).normal(size=shape).astype("float32"))
    cls(4, kernel_size=2, padding="same")(x)
    mask = np.ones(shape[:2], bool)
    mask[1, 3:] = False
    cls(4, **options)(x, mask=torch.tensor(mask))
    cls(4, recurrent_dropout=0.3, **options)(x, training=True)
    assert served == []
    cls(4, recurrent_dropout=0.3, **options)(x, training=False)
    assert served == [1]
