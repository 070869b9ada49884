"""The torch backend's one-pass linear recurrence (``native_cells.LinearRecurrenceNative``) for minGRU and minLSTM.

With the C++ kernels, ``MinGRU`` / ``MinLSTM`` (``parallel_scan=True``) run
``h_t = a_t h_{t-1} + b_t`` sequentially in one call each way instead of the
associative scan. Checked on the same weights: outputs and the gradients of
the inputs, the initial state and every weight against the scan (float32)
and, in float64, against the cell's own step loop (``parallel_scan=False``)
to 1e-12; log space and linear space, forwards and backwards, with a mask.
"""

import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.helpers.torch_kernels import REQUIRES_KERNELS

pytestmark = REQUIRES_KERNELS

SHAPE = (3, 7, 4)
UNITS = 5
LAYERS = {"min_gru": layers.MinGRU, "min_lstm": layers.MinLSTM}


def _layer(name, dtype="float32", **options):
    layer = LAYERS[name](UNITS, dtype=dtype, **{"return_sequences": True, **options})
    layer.build(SHAPE)
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(scale=0.7, size=w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _run(layer, dtype="float32", mask=None):
    import torch

    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=SHAPE).astype(dtype), requires_grad=True)
    h0 = torch.tensor(rng.normal(size=(SHAPE[0], UNITS)).astype(dtype), requires_grad=True)
    outputs = layer(x, initial_state=[h0], mask=None if mask is None else torch.tensor(mask))
    weights = torch.tensor(rng.normal(size=tuple(outputs.shape)).astype(dtype))
    grads = torch.autograd.grad((outputs * weights).sum(), [x, h0, *(v.value for v in layer.trainable_variables)])
    return [outputs.detach().numpy(), *(g.numpy() for g in grads)]


@pytest.fixture
def served(monkeypatch):
    from kerasrnn.backend.torch import native_cells

    calls = []
    original = native_cells.LinearRecurrenceNative.apply
    monkeypatch.setattr(native_cells.LinearRecurrenceNative, "apply", lambda *a: calls.append(1) or original(*a))
    return calls


def _refused(*args, **kwargs):
    raise NotImplementedError


def _mask():
    mask = np.ones(SHAPE[:2], bool)
    mask[0, 5:] = False
    mask[2, 2:] = False
    return mask


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("log_space", [True, False], ids=["log-space", "linear"])
@pytest.mark.parametrize(
    "options", [{}, {"go_backwards": True}, {"mask": True}], ids=["forward", "backwards", "masked"]
)
def test_matches_the_scan(name, log_space, options, served, monkeypatch):
    options = dict(options)
    mask = _mask() if options.pop("mask", False) else None
    layer = _layer(name, log_space=log_space, **options)
    fast = _run(layer, mask=mask)
    assert served == [1]
    monkeypatch.setattr(fast_paths, "linear_recurrence", _refused)
    scan = _run(layer, mask=mask)
    for got, want in zip(fast, scan):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_float64_matches_the_step_loop_tightly(name, go_backwards, served):
    # A mask only forwards: with leading masked steps (right padding read backwards) Keras' step loop outputs
    # zeros where the scan (and this path, which gives the scan's numbers) outputs the carried initial state.
    mask = None if go_backwards else _mask()
    fast = _run(_layer(name, "float64", go_backwards=go_backwards), "float64", mask=mask)
    assert served == [1]
    loop = _run(_layer(name, "float64", go_backwards=go_backwards, parallel_scan=False), "float64", mask=mask)
    assert served == [1]  # the step loop does not come here
    for got, want in zip(fast, loop):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
