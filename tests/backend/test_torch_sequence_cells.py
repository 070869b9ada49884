"""The torch backend's whole-sequence autograd Functions against the cells they replace.

``kerasrnn.backend.torch.sequence_cells`` runs a cell's whole time loop in one
``torch.autograd.Function`` with a hand-written backward pass. Checked here:

* against the same layer running its generic loop over the cell's step (the
  fast path refused): outputs, final states and the gradients of the inputs,
  the initial states and every weight, float32, forwards and backwards, with
  and without ``return_sequences``, with input dropout;
* in float64 against the cell's recurrence written again in plain torch
  autograd, after the cell's own input projection (Keras' torch ``matmul``
  computes float64 in float32, so neither the generic loop nor the
  projection can be a tight reference);
* that the Function really ran, and that masks and recurrent dropout fall
  back to the generic loop.

Each check runs twice: with the C++ step kernels (``native_cells``, the
default on CPU) and with the pure-PyTorch Functions (``sequence_cells``,
the path without a compiler and on CUDA).
"""

import keras
import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch-only fast path")

UNITS = 5
SHAPE = (3, 6, 4)  # batch, time, features
CELLS = {
    "peephole_lstm": layers.PeepholeLSTM,
    "layer_norm_lstm": layers.LayerNormLSTM,
}


def _layer(name, dtype="float32", **options):
    options = {"return_sequences": True, **options}
    layer = CELLS[name](UNITS, return_state=True, dtype=dtype, **options)
    layer.build(SHAPE)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _refused(*args, **kwargs):
    raise NotImplementedError


def _run(layer, x, h0, c0, output_weights, training=False):
    """Outputs, final states and the gradients of a weighted sum of them."""
    import torch

    x = torch.tensor(x, requires_grad=True)
    h0 = torch.tensor(h0, requires_grad=True)
    c0 = torch.tensor(c0, requires_grad=True)
    results = layer(x, initial_state=[h0, c0], training=training)
    loss = sum((r * torch.tensor(w)).sum() for r, w in zip(results, output_weights))
    params = [v.value for v in layer.trainable_variables]
    grads = torch.autograd.grad(loss, [x, h0, c0, *params])
    return [r.detach().numpy() for r in results], [g.numpy() for g in grads]


def _data(dtype, return_sequences=True, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=SHAPE).astype(dtype)
    h0, c0 = (rng.normal(size=(SHAPE[0], UNITS)).astype(dtype) for _ in range(2))
    out_shape = (SHAPE[0], SHAPE[1], UNITS) if return_sequences else (SHAPE[0], UNITS)
    weights = [rng.normal(size=s).astype(dtype) for s in (out_shape, (SHAPE[0], UNITS), (SHAPE[0], UNITS))]
    return x, h0, c0, weights


def _assert_close(got, want):
    # float32 sums in another order: relative to each array's scale (a gradient holds 19 beside 0.005).
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))


FUNCTIONS = {
    # implementation -> cell -> the autograd.Function that runs it
    "native": {"peephole_lstm": "PeepholeLSTMNative", "layer_norm_lstm": "LayerNormLSTMNative"},
    "pytorch": {"peephole_lstm": "PeepholeLSTMSequence", "layer_norm_lstm": "LayerNormLSTMSequence"},
}


@pytest.fixture(params=list(FUNCTIONS))
def served(request, monkeypatch):
    """Names of the cells whose Function ran; each test runs with the C++ step kernels and without them."""
    from kerasrnn.backend.torch import native_cells, native_library, sequence_cells

    if request.param == "native":
        if native_library.library() is None:
            try:
                native_library.find_compiler()
            except native_library.BuildError as error:
                pytest.skip(f"no C++ compiler here: {error}")
            pytest.fail("the C++ step kernels did not build (see the warning)")
        module = native_cells
    else:
        monkeypatch.setattr(native_cells, "supports", lambda *tensors: False)
        module = sequence_cells
    names = []
    for name, function in FUNCTIONS[request.param].items():
        cls = getattr(module, function)
        original = cls.apply

        def apply(*args, _name=name, _original=original):
            names.append(_name)
            return _original(*args)

        monkeypatch.setattr(cls, "apply", apply)
    return names


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize(
    "options",
    [{}, {"go_backwards": True}, {"return_sequences": False}, {"go_backwards": True, "return_sequences": False}],
    ids=["forward", "backwards", "last", "backwards-last"],
)
def test_matches_generic_loop(name, options, served, monkeypatch):
    layer = _layer(name, **options)
    x, h0, c0, weights = _data("float32", return_sequences=options.get("return_sequences", True))
    fast_outputs, fast_grads = _run(layer, x, h0, c0, weights)
    assert served == [name]
    monkeypatch.setattr(fast_paths, name, _refused)
    loop_outputs, loop_grads = _run(layer, x, h0, c0, weights)
    assert len(fast_grads) == 3 + len(layer.trainable_variables)
    for got, want in zip(fast_outputs + fast_grads, loop_outputs + loop_grads):
        assert got.shape == want.shape
        _assert_close(got, want)


@pytest.mark.parametrize("name", list(CELLS))
def test_input_dropout_matches_generic_loop(name, served, monkeypatch):
    # The cell draws the sequence's input mask in project_inputs on both paths: same seed, same mask.
    x, h0, c0, weights = _data("float32")
    fast_outputs, fast_grads = _run(_layer(name, dropout=0.4, seed=3), x, h0, c0, weights, training=True)
    assert served == [name]
    monkeypatch.setattr(fast_paths, name, _refused)
    loop_outputs, loop_grads = _run(_layer(name, dropout=0.4, seed=3), x, h0, c0, weights, training=True)
    for got, want in zip(fast_outputs + fast_grads, loop_outputs + loop_grads):
        _assert_close(got, want)


def _torch_reference(name, layer, x, h0, c0, go_backwards):
    """The cell's recurrence in plain torch autograd (float64) after its own input projection."""
    import torch

    weights = {v.path.split("/")[-1]: v.value for v in layer.trainable_variables}
    recurrent_kernel = weights["recurrent_kernel"]
    projected = layer.cell.project_inputs(x)
    eps = layer.cell.norm_epsilon if name == "layer_norm_lstm" else None

    def ln(v, norm):
        mean = v.mean(-1, keepdim=True)
        var = ((v - mean) ** 2).mean(-1, keepdim=True)
        return (v - mean) / torch.sqrt(var + eps) * weights[f"{norm}_gamma"] + weights[f"{norm}_beta"]

    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    h, c, outputs = h0, c0, []
    for t in steps:
        if name == "peephole_lstm":
            z = projected[:, t] + h @ recurrent_kernel
            zi, zf, zc, zo = z.chunk(4, -1)
            i = torch.sigmoid(zi + weights["input_gate_peephole"] * c)
            f = torch.sigmoid(zf + weights["forget_gate_peephole"] * c)
            c = f * c + i * torch.tanh(zc)
            o = torch.sigmoid(zo + weights["output_gate_peephole"] * c)
        else:
            z = projected[:, t] + ln(h @ recurrent_kernel, "recurrent_norm")
            zi, zf, zc, zo = z.chunk(4, -1)
            i, f, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.sigmoid(zo)
            c = ln(f * c + i * torch.tanh(zc), "state_norm")
        h = o * torch.tanh(c)
        outputs.append(h)
    return [torch.stack(outputs, 1), h, c]


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_float64_matches_equations_tightly(name, go_backwards, served):
    import torch

    layer = _layer(name, dtype="float64", go_backwards=go_backwards)
    x, h0, c0, weights = _data("float64")
    fast_outputs, fast_grads = _run(layer, x, h0, c0, weights)
    assert served == [name]
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, h0, c0)]
    results = _torch_reference(name, layer, *leaves, go_backwards)
    loss = sum((r * torch.tensor(w)).sum() for r, w in zip(results, weights))
    params = [v.value for v in layer.trainable_variables]
    want_grads = torch.autograd.grad(loss, leaves + params)
    for got, want in zip(fast_outputs, results):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, want in zip(fast_grads, want_grads):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", list(CELLS))
def test_mask_and_recurrent_dropout_fall_back(name, served):
    import torch

    x, h0, c0, _ = _data("float32")
    mask = np.ones(SHAPE[:2], bool)
    mask[1, 3:] = False
    _layer(name)(torch.tensor(x), mask=torch.tensor(mask))
    _layer(name, recurrent_dropout=0.3)(torch.tensor(x), training=True)
    assert served == []
    _layer(name, recurrent_dropout=0.3)(torch.tensor(x), training=False)  # no dropout at inference
    assert served == [name]
