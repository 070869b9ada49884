"""The torch backend's C++-kernel recurrence of Cho's GRU, MUT1-3 and MGU against the layers' generic loops.

``kerasrnn.backend.torch.native_cells.ResetBeforeNative`` runs the whole time
loop of the GRU-family cells whose reset gate acts before the candidate's
matmul. Checked here, on the same weights:

* against the layer's generic loop over the cell's step (the fast path
  refused): outputs and the gradients of the inputs, the initial state and
  every weight, float32, forwards and backwards, all outputs or the last,
  an input width equal to ``units`` (MUT1/MUT2's bare-input form) or not;
* with input dropout in training (same seed, same mask on both paths);
* in float64 against the cells' equations written again in plain torch
  autograd after the cell's own input sums;
* that masks and recurrent dropout fall back to the generic loop.
"""

import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.helpers.torch_kernels import REQUIRES_KERNELS

pytestmark = REQUIRES_KERNELS

UNITS = 5
BATCH, TIME = 3, 6
LAYERS = {
    "gru": lambda **options: layers.GRU(UNITS, reset_after=False, **options),
    "mut1": lambda **options: layers.MUT1(UNITS, **options),
    "mut2": lambda **options: layers.MUT2(UNITS, **options),
    "mut3": lambda **options: layers.MUT3(UNITS, **options),
    "mgu": lambda **options: layers.MGU(UNITS, **options),
}
# The form each layer runs as: MGU is MUT2's with the gates tied (sums [p_f, p_f, p_h], kernel [U_f, U_f, U_h]).
FORMS = {"mgu": "mut2"}


def _layer(name, features, dtype="float32", **options):
    options = {"return_sequences": True, **options}
    layer = LAYERS[name](dtype=dtype, **options)
    layer.build((BATCH, TIME, features))
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _data(features, dtype, return_sequences=True):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(BATCH, TIME, features)).astype(dtype)
    h0 = rng.normal(size=(BATCH, UNITS)).astype(dtype)
    weights = rng.normal(size=(BATCH, TIME, UNITS) if return_sequences else (BATCH, UNITS)).astype(dtype)
    return x, h0, weights


def _run(layer, x, h0, output_weights, training=False):
    """Outputs and the gradients of their weighted sum w.r.t. x, h0 and every weight."""
    import torch

    x = torch.tensor(x, requires_grad=True)
    h0 = torch.tensor(h0, requires_grad=True)
    outputs = layer(x, initial_state=[h0], training=training)
    loss = (outputs * torch.tensor(output_weights)).sum()
    grads = torch.autograd.grad(loss, [x, h0, *(v.value for v in layer.trainable_variables)])
    return [outputs.detach().numpy(), *(g.numpy() for g in grads)]


@pytest.fixture
def served(monkeypatch):
    """Cells whose ``ResetBeforeNative`` ran."""
    from kerasrnn.backend.torch import native_cells

    cells = []
    original = native_cells.ResetBeforeNative.apply

    def apply(*args):
        cells.append(args[3])
        return original(*args)

    monkeypatch.setattr(native_cells.ResetBeforeNative, "apply", apply)
    return cells


def _refused(*args, **kwargs):
    raise NotImplementedError


def _assert_close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("features", [UNITS, 4], ids=["width-units", "width-4"])
@pytest.mark.parametrize(
    "options",
    [{}, {"go_backwards": True}, {"return_sequences": False}],
    ids=["forward", "backwards", "last"],
)
def test_matches_generic_loop(name, features, options, served, monkeypatch):
    layer = _layer(name, features, **options)
    x, h0, weights = _data(features, "float32", options.get("return_sequences", True))
    fast = _run(layer, x, h0, weights)
    assert served == [FORMS.get(name, name)]
    monkeypatch.setattr(fast_paths, "reset_before_rnn", _refused)
    if name == "gru":  # Keras' GRU reaches it through kerasrnn.backend.gru
        monkeypatch.setattr(fast_paths, "gru", _refused)
    loop = _run(layer, x, h0, weights)
    assert served == [FORMS.get(name, name)] and len(fast) == 3 + len(layer.trainable_variables)
    for got, want in zip(fast, loop):
        assert got.shape == want.shape
        _assert_close(got, want)


@pytest.mark.parametrize("name", list(LAYERS))
def test_input_dropout_matches_generic_loop(name, served, monkeypatch):
    x, h0, weights = _data(4, "float32")
    fast = _run(_layer(name, 4, dropout=0.4, seed=3), x, h0, weights, training=True)
    assert served == [FORMS.get(name, name)]
    monkeypatch.setattr(fast_paths, "reset_before_rnn", _refused)
    monkeypatch.setattr(fast_paths, "gru", _refused)
    loop = _run(_layer(name, 4, dropout=0.4, seed=3), x, h0, weights, training=True)
    for got, want in zip(fast, loop):
        _assert_close(got, want)


def _input_sums(name, layer, x):
    """``[p_z, p_r, p_h]`` of each step: the cell's own input projection (Keras' GRU: x W + b)."""
    if name == "gru":
        return x @ layer.cell.kernel.value + layer.cell.bias.value
    return layer.cell.project_inputs(x)


def _equations(name, layer, x, h0, go_backwards):
    """The cells' recurrences in plain torch (float64), from their docstrings' equations."""
    import torch

    u = UNITS
    kernel = layer.cell.recurrent_kernel.value
    sums = _input_sums(name, layer, x)
    steps = range(TIME - 1, -1, -1) if go_backwards else range(TIME)
    h, outputs = h0, []
    for t in steps:
        if name == "mgu":  # [W_f x + b_f, W_h x + b_h], recurrent kernel [U_f, U_h]
            f = torch.sigmoid(sums[:, t, :u] + h @ kernel[:, :u])
            h = (1 - f) * h + f * torch.tanh(sums[:, t, u:] + (f * h) @ kernel[:, u:])
            outputs.append(h)
            continue
        p_z, p_r, p_h = sums[:, t].split(u, -1)
        if name == "mut1":  # recurrent kernel [W_hr, W_hh]
            z = torch.sigmoid(p_z)
            r = torch.sigmoid(p_r + h @ kernel[:, :u])
        elif name == "mut3":  # [W_hz, W_hr, W_hh], z sees tanh(h)
            z = torch.sigmoid(p_z + torch.tanh(h) @ kernel[:, :u])
            r = torch.sigmoid(p_r + h @ kernel[:, u : 2 * u])
        else:  # gru, mut2: [U_z, U_r, U_h]
            z = torch.sigmoid(p_z + h @ kernel[:, :u])
            r = torch.sigmoid(p_r + h @ kernel[:, u : 2 * u])
        candidate = torch.tanh(p_h + (r * h) @ kernel[:, -u:])
        h = z * h + (1 - z) * candidate if name == "gru" else z * candidate + (1 - z) * h
        outputs.append(h)
    return torch.stack(outputs, 1)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_float64_matches_equations_tightly(name, go_backwards, served):
    import torch

    layer = _layer(name, UNITS, dtype="float64", go_backwards=go_backwards)
    x, h0, weights = _data(UNITS, "float64")
    fast = _run(layer, x, h0, weights)
    assert served == [FORMS.get(name, name)]
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, h0)]
    outputs = _equations(name, layer, *leaves, go_backwards)
    loss = (outputs * torch.tensor(weights)).sum()
    want = torch.autograd.grad(loss, leaves + [v.value for v in layer.trainable_variables])
    np.testing.assert_allclose(fast[0], outputs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, expected in zip(fast[1:], want):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", list(LAYERS))
def test_mask_and_recurrent_dropout_fall_back(name, served):
    import torch

    x, _, _ = _data(4, "float32")
    mask = np.ones((BATCH, TIME), bool)
    mask[1, 3:] = False
    _layer(name, 4)(torch.tensor(x), mask=torch.tensor(mask))
    _layer(name, 4, recurrent_dropout=0.3)(torch.tensor(x), training=True)
    assert served == []
    _layer(name, 4, recurrent_dropout=0.3)(torch.tensor(x), training=False)
    # Keras' GRU keeps its cuDNN rule: a layer with recurrent dropout never takes a fused kernel.
    assert served == ([] if name == "gru" else [FORMS.get(name, name)])
