"""The torch backend's C++-kernel NAS recurrence (``native_cells.NASNative``) against the layer's generic loop.

Checked on the same weights: outputs, final states and the gradients of the
inputs, the initial states and every weight (float32 against the generic
loop: forwards, backwards, last output only, with a bias (NAS has none by default), input dropout;
float64 against the cell's equations written again in torch); a projection,
a mask and recurrent dropout fall back.
"""

import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.helpers.torch_kernels import REQUIRES_KERNELS

pytestmark = REQUIRES_KERNELS

SHAPE = (3, 6, 4)
UNITS = 5


def _layer(dtype="float32", **options):
    layer = layers.NAS(UNITS, dtype=dtype, return_state=True, **{"return_sequences": True, **options})
    layer.build(SHAPE)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(scale=0.6, size=w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _run(layer, dtype="float32", training=False):
    import torch

    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=SHAPE).astype(dtype), requires_grad=True)
    h0, c0 = (torch.tensor(rng.normal(size=(SHAPE[0], UNITS)).astype(dtype), requires_grad=True) for _ in range(2))
    results = layer(x, initial_state=[h0, c0], training=training)
    weights = [torch.tensor(rng.normal(size=tuple(r.shape)).astype(dtype)) for r in results]
    loss = sum((r * w).sum() for r, w in zip(results, weights))
    grads = torch.autograd.grad(loss, [x, h0, c0, *(v.value for v in layer.trainable_variables)])
    return [r.detach().numpy() for r in results] + [g.numpy() for g in grads], (x, h0, c0, weights)


@pytest.fixture
def served(monkeypatch):
    from kerasrnn.backend.torch import native_cells

    calls = []
    original = native_cells.NASNative.apply
    monkeypatch.setattr(native_cells.NASNative, "apply", lambda *args: calls.append(1) or original(*args))
    return calls


def _refused(*args, **kwargs):
    raise NotImplementedError


def _assert_close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize(
    "options",
    [{}, {"go_backwards": True}, {"return_sequences": False}, {"use_bias": True}],
    ids=["forward", "backwards", "last", "bias"],
)
def test_matches_generic_loop(options, served, monkeypatch):
    layer = _layer(**options)
    fast, _ = _run(layer)
    assert served == [1]
    monkeypatch.setattr(fast_paths, "nas", _refused)
    loop, _ = _run(layer)
    assert len(fast) == 6 + len(layer.trainable_variables)
    for got, want in zip(fast, loop):
        assert got.shape == want.shape
        _assert_close(got, want)


def test_input_dropout_matches_generic_loop(served, monkeypatch):
    fast, _ = _run(_layer(dropout=0.4, seed=3), training=True)
    assert served == [1]
    monkeypatch.setattr(fast_paths, "nas", _refused)
    loop, _ = _run(_layer(dropout=0.4, seed=3), training=True)
    for got, want in zip(fast, loop):
        _assert_close(got, want)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_float64_matches_equations_tightly(go_backwards, served):
    import torch

    layer = _layer("float64", go_backwards=go_backwards, use_bias=True)
    fast, (x, h0, c0, weights) = _run(layer, "float64")
    assert served == [1]
    cell = layer.cell
    projected = cell.project_inputs(x)
    h, c, outputs = h0, c0, []
    for t in range(SHAPE[1] - 1, -1, -1) if go_backwards else range(SHAPE[1]):
        a = projected[:, t].split(UNITS, -1)
        m = (h @ cell.recurrent_kernel.value + cell.bias.value).split(UNITS, -1)
        l0, l1, l2 = torch.sigmoid(a[0] + m[0]), torch.relu(a[1] + m[1]), torch.sigmoid(a[2] + m[2])
        l3, l4, l5 = torch.relu(a[3] * m[3]), torch.tanh(a[4] + m[4]), torch.sigmoid(a[5] + m[5])
        l6, l7 = torch.tanh(a[6] + m[6]), torch.sigmoid(a[7] + m[7])
        c = torch.tanh(torch.tanh(l0 * l1) + c) * torch.tanh(l2 + l3)
        h = torch.tanh(c * torch.tanh(torch.tanh(l4 * l5) + torch.sigmoid(l6 + l7)))
        outputs.append(h)
    results = [torch.stack(outputs, 1), h, c]
    loss = sum((r * w).sum() for r, w in zip(results, weights))
    want = torch.autograd.grad(loss, [x, h0, c0, *(v.value for v in layer.trainable_variables)])
    for got, expected in zip(fast, results):
        np.testing.assert_allclose(got, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, expected in zip(fast[3:], want):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-9, atol=1e-11)


def test_projection_masks_and_recurrent_dropout_fall_back(served):
    import torch

    x = torch.tensor(np.random.default_rng(2).normal(size=SHAPE).astype("float32"))
    mask = np.ones(SHAPE[:2], bool)
    mask[1, 3:] = False
    layers.NAS(UNITS, projection=3)(x)
    layers.NAS(UNITS)(x, mask=torch.tensor(mask))
    layers.NAS(UNITS, recurrent_dropout=0.3)(x, training=True)
    assert served == []
    layers.NAS(UNITS, recurrent_dropout=0.3)(x, training=False)
    assert served == [1]
