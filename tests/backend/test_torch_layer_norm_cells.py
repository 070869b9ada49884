"""The torch backend's C++-kernel recurrences of the layer-normalized GRU and simple RNN against the layers' loops.

``native_cells.LayerNormGRUNative`` and ``LayerNormSimpleRNNNative`` (the
layer-normalized LSTM is in ``test_torch_sequence_cells.py``). Checked on the
same weights: outputs and the gradients of the inputs, the initial state and
every weight against the layer's generic loop (float32; forwards, backwards,
last output only; input dropout; the simple RNN without a bias), in float64
against the cells' equations written again in torch, and that masks and
recurrent dropout fall back.
"""

import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.helpers.torch_kernels import REQUIRES_KERNELS

pytestmark = REQUIRES_KERNELS

SHAPE = (3, 6, 4)
UNITS = 5
LAYERS = {"layer_norm_gru": layers.LayerNormGRU, "layer_norm_simple_rnn": layers.LayerNormSimpleRNN}
FUNCTIONS = {"layer_norm_gru": "LayerNormGRUNative", "layer_norm_simple_rnn": "LayerNormSimpleRNNNative"}


def _layer(name, dtype="float32", **options):
    layer = LAYERS[name](UNITS, dtype=dtype, **{"return_sequences": True, **options})
    layer.build(SHAPE)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(loc=0.3, scale=0.5, size=w.shape).astype(dtype) for w in layer.get_weights()])
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
    for name, function in FUNCTIONS.items():
        cls = getattr(native_cells, function)
        original = cls.apply
        monkeypatch.setattr(cls, "apply", lambda *args, _n=name, _o=original: calls.append(_n) or _o(*args))
    return calls


def _refused(*args, **kwargs):
    raise NotImplementedError


def _assert_close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize(
    "options",
    [{}, {"go_backwards": True}, {"return_sequences": False}, {"use_bias": False}],
    ids=["forward", "backwards", "last", "no-bias"],
)
def test_matches_generic_loop(name, options, served, monkeypatch):
    layer = _layer(name, **options)
    fast, _ = _run(layer)
    assert served == [name]
    monkeypatch.setattr(fast_paths, name, _refused)
    loop, _ = _run(layer)
    assert len(fast) == 3 + len(layer.trainable_variables)
    for got, want in zip(fast, loop):
        assert got.shape == want.shape
        _assert_close(got, want)


@pytest.mark.parametrize("name", list(LAYERS))
def test_input_dropout_matches_generic_loop(name, served, monkeypatch):
    fast, _ = _run(_layer(name, dropout=0.4, seed=3), training=True)
    assert served == [name]
    monkeypatch.setattr(fast_paths, name, _refused)
    loop, _ = _run(_layer(name, dropout=0.4, seed=3), training=True)
    for got, want in zip(fast, loop):
        _assert_close(got, want)


def _equations(name, layer, x, h0, go_backwards):
    """The cells' recurrences in plain torch (float64), from their docstrings."""
    import torch

    cell = layer.cell

    def ln(v, gamma, beta, eps):
        mean = v.mean(-1, keepdim=True)
        return (v - mean) / torch.sqrt(((v - mean) ** 2).mean(-1, keepdim=True) + eps) * gamma + beta

    projected = cell.project_inputs(x)
    kernel = cell.recurrent_kernel.value
    u = UNITS
    h, outputs = h0, []
    for t in range(SHAPE[1] - 1, -1, -1) if go_backwards else range(SHAPE[1]):
        r = h @ kernel
        if name == "layer_norm_gru":
            gamma, beta, eps = cell.recurrent_norm_gamma.value, cell.recurrent_norm_beta.value, cell.norm_epsilon
            y_g = ln(r[:, : 2 * u], gamma[: 2 * u], beta[: 2 * u], eps)
            y_h = ln(r[:, 2 * u :], gamma[2 * u :], beta[2 * u :], eps)
            z = torch.sigmoid(projected[:, t, :u] + y_g[:, :u])
            reset = torch.sigmoid(projected[:, t, u : 2 * u] + y_g[:, u:])
            h = z * h + (1 - z) * torch.tanh(projected[:, t, 2 * u :] + reset * y_h)
        else:
            h = torch.tanh(ln(projected[:, t] + r, cell.gamma.value, cell.bias.value, cell.layernorm_epsilon))
        outputs.append(h)
    return torch.stack(outputs, 1)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_float64_matches_equations_tightly(name, go_backwards, served):
    import torch

    layer = _layer(name, "float64", go_backwards=go_backwards)
    fast, (x, h0, weights) = _run(layer, "float64")
    assert served == [name]
    outputs = _equations(name, layer, x, h0, go_backwards)
    want = torch.autograd.grad((outputs * weights).sum(), [x, h0, *(v.value for v in layer.trainable_variables)])
    np.testing.assert_allclose(fast[0], outputs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, expected in zip(fast[1:], want):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", list(LAYERS))
def test_mask_and_recurrent_dropout_fall_back(name, served):
    import torch

    x = torch.tensor(np.random.default_rng(2).normal(size=SHAPE).astype("float32"))
    mask = np.ones(SHAPE[:2], bool)
    mask[1, 3:] = False
    _layer(name)(x, mask=torch.tensor(mask))
    _layer(name, recurrent_dropout=0.3)(x, training=True)
    assert served == []
    _layer(name, recurrent_dropout=0.3)(x, training=False)
    assert served == [name]
