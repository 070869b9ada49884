"""The torch backend's one-call IndRNN recurrence (``native_cells.IndRNNNative``) against the layer's generic loop.

Checked on the same weights: outputs and the gradients of the inputs, the
initial state and every weight for each activation the kernel has, forwards
and backwards, all outputs or the last (float32 against the generic loop,
float64 against ``h_t = act(p_t + u h_{t-1})`` written again in torch); an
activation it lacks, a mask and recurrent dropout fall back.
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
    layer = layers.IndRNN(UNITS, dtype=dtype, **{"return_sequences": True, **options})
    layer.build(SHAPE)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(scale=0.7, size=w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _run(layer, dtype="float32", training=False):
    import torch

    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=SHAPE).astype(dtype), requires_grad=True)
    h0 = torch.tensor(rng.normal(size=(SHAPE[0], UNITS)).astype(dtype), requires_grad=True)
    outputs = layer(x, initial_state=[h0], training=training)
    weights = torch.tensor(rng.normal(size=tuple(outputs.shape)).astype(dtype))
    grads = torch.autograd.grad((outputs * weights).sum(), [x, h0, *(v.value for v in layer.trainable_variables)])
    return [outputs.detach().numpy(), *(g.numpy() for g in grads)], (x, h0, weights)


@pytest.fixture
def served(monkeypatch):
    from kerasrnn.backend.torch import native_cells

    calls = []
    original = native_cells.IndRNNNative.apply
    monkeypatch.setattr(native_cells.IndRNNNative, "apply", lambda *args: calls.append(args[3]) or original(*args))
    return calls


def _refused(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize(
    "options", [{}, {"go_backwards": True}, {"return_sequences": False}], ids=["forward", "backwards", "last"]
)
def test_matches_generic_loop(activation, options, served, monkeypatch):
    layer = _layer(activation=activation, **options)
    fast, _ = _run(layer)
    assert served == [activation]
    monkeypatch.setattr(fast_paths, "ind_rnn", _refused)
    loop, _ = _run(layer)
    assert len(fast) == 3 + len(layer.trainable_variables)
    for got, want in zip(fast, loop):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_float64_matches_equations_tightly(go_backwards, served):
    import torch

    layer = _layer("float64", activation="tanh", go_backwards=go_backwards)
    fast, (x, h0, weights) = _run(layer, "float64")
    assert served == ["tanh"]
    projected = layer.cell.project_inputs(x)
    u = layer.cell.recurrent_kernel.value
    h, outputs = h0, []
    for t in range(SHAPE[1] - 1, -1, -1) if go_backwards else range(SHAPE[1]):
        h = torch.tanh(projected[:, t] + u * h)
        outputs.append(h)
    outputs = torch.stack(outputs, 1)
    want = torch.autograd.grad((outputs * weights).sum(), [x, h0, *(v.value for v in layer.trainable_variables)])
    np.testing.assert_allclose(fast[0], outputs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, expected in zip(fast[1:], want):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-9, atol=1e-11)


def test_other_activations_masks_and_recurrent_dropout_fall_back(served):
    import torch

    x = torch.tensor(np.random.default_rng(2).normal(size=SHAPE).astype("float32"))
    mask = np.ones(SHAPE[:2], bool)
    mask[1, 3:] = False
    _layer(activation="elu")(x)
    _layer()(x, mask=torch.tensor(mask))
    _layer(recurrent_dropout=0.3)(x, training=True)
    assert served == []
    _layer(recurrent_dropout=0.3)(x, training=False)
    assert served == ["relu"]
