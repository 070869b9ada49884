"""Every kerasrnn cell against a float64 NumPy reference of its published equations.

The layers run in float32 with fresh random values in *all* weights (biases,
peepholes and layer-norm gammas/betas included); every time step of the output
sequence and the final states must match the reference to a relative error
(``max|a - b| / max(max|b|, 1e-3)``, see ``numpy_reference.relative_error``)
below 1e-5.
"""

import functools
import itertools
from dataclasses import dataclass

import keras
import numpy as np
import pytest

import kerasrnn
from tests.helpers import numpy_reference as ref

BATCH, TIME, INPUT, UNITS = 3, 7, 5, 6
TOLERANCE = 1e-5


@dataclass
class Case:
    name: str
    make: callable  # (**rnn_kwargs) -> layer
    frame: tuple  # the shape of one input step, without batch
    reference: callable  # (x, weights, initial_state=, go_backwards=) -> (outputs, states)
    projection: object = None  # MUT1/2: whether `input_projection` must exist


def cheap_initializers(cls):
    """Zero initializers for the weights the tests overwrite anyway.

    Random initializers (the orthogonal one above all) compile anew for every
    shape on JAX, which would dominate the runtime.
    """
    names = ["kernel_initializer", "recurrent_initializer", "peephole_initializer"]
    return {name: "zeros" for name in names if name in cls.cell_argument_names()}


def _layer(cls, *args, **kwargs):
    return lambda **rnn_kwargs: cls(*args, **cheap_initializers(cls), **kwargs, **rnn_kwargs)


def _conv_case(name, cls, frame, filters, kernel_size, **conv):
    return Case(
        name,
        _layer(cls, filters, kernel_size, **conv),
        frame,
        functools.partial(
            ref.run_conv_lstm,
            strides=conv.get("strides", 1),
            padding=conv.get("padding", "valid"),
            dilation=conv.get("dilation_rate", 1),
        ),
    )


L = kerasrnn.layers
CASES = [
    Case("peephole_lstm", _layer(L.PeepholeLSTM, UNITS), (INPUT,), ref.run_peephole_lstm),
    Case("peephole_lstm_d=u", _layer(L.PeepholeLSTM, UNITS), (UNITS,), ref.run_peephole_lstm),
    Case("layer_norm_lstm", _layer(L.LayerNormLSTM, UNITS), (INPUT,), ref.run_layer_norm_lstm),
    Case(
        "layer_norm_lstm_eps=0.1",
        _layer(L.LayerNormLSTM, UNITS, norm_epsilon=0.1),
        (UNITS,),
        functools.partial(ref.run_layer_norm_lstm, eps=0.1),
    ),
    Case("mut1_exact", _layer(L.MUT1, UNITS), (UNITS,), ref.run_mut1, projection=False),
    Case("mut1_projected", _layer(L.MUT1, UNITS), (INPUT,), ref.run_mut1, projection=True),
    Case(
        "mut1_forced_projection",
        _layer(L.MUT1, UNITS, input_projection=True),
        (UNITS,),
        ref.run_mut1,
        projection=True,
    ),
    Case("mut2_exact", _layer(L.MUT2, UNITS), (UNITS,), ref.run_mut2, projection=False),
    Case("mut2_projected", _layer(L.MUT2, UNITS), (INPUT,), ref.run_mut2, projection=True),
    Case(
        "mut2_forced_projection",
        _layer(L.MUT2, UNITS, input_projection=True),
        (UNITS,),
        ref.run_mut2,
        projection=True,
    ),
    Case("mut3", _layer(L.MUT3, UNITS), (INPUT,), ref.run_mut3),
    Case("mut3_d=u", _layer(L.MUT3, UNITS), (UNITS,), ref.run_mut3),
    Case("ind_rnn", _layer(L.IndRNN, UNITS), (INPUT,), ref.run_ind_rnn),
    Case(
        "ind_rnn_tanh_clipped",
        _layer(L.IndRNN, UNITS, activation="tanh", recurrent_max_abs=0.5),
        (INPUT,),
        functools.partial(ref.run_ind_rnn, activation="tanh"),
    ),
    Case("mgu", _layer(L.MGU, UNITS), (INPUT,), ref.run_mgu),
    Case("mgu_d=u", _layer(L.MGU, UNITS), (UNITS,), ref.run_mgu),
    Case("min_gru", _layer(L.MinGRU, UNITS), (INPUT,), ref.run_min_gru),
    Case(
        "min_gru_linear",
        _layer(L.MinGRU, UNITS, log_space=False),
        (INPUT,),
        functools.partial(ref.run_min_gru, log_space=False),
    ),
    Case("min_lstm", _layer(L.MinLSTM, UNITS), (INPUT,), ref.run_min_lstm),
    Case("min_lstm_steps", _layer(L.MinLSTM, UNITS, parallel_scan=False), (INPUT,), ref.run_min_lstm),
    Case(
        "min_lstm_linear",
        _layer(L.MinLSTM, UNITS, log_space=False),
        (INPUT,),
        functools.partial(ref.run_min_lstm, log_space=False),
    ),
    Case("nas", _layer(L.NAS, UNITS), (INPUT,), ref.run_nas),
    Case("nas_projected_bias", _layer(L.NAS, UNITS, projection=4, use_bias=True), (INPUT,), ref.run_nas),
    _conv_case("conv1d_same_peephole", L.ConvLSTM1D, (9, 3), 4, 3, padding="same"),
    _conv_case("conv1d_same_even_kernel", L.ConvLSTM1D, (8, 3), 4, 2, padding="same", peephole=False),
    _conv_case("conv1d_valid_strided_peephole", L.ConvLSTM1D, (9, 2), 3, 2, strides=2, padding="valid"),
    _conv_case("conv2d_same_peephole", L.ConvLSTM2D, (5, 6, 2), 3, (3, 2), padding="same"),
    _conv_case("conv2d_valid", L.ConvLSTM2D, (5, 6, 2), 3, (2, 3), padding="valid", peephole=False),
    _conv_case("conv2d_same", L.ConvLSTM2D, (5, 6, 2), 3, (3, 3), padding="same", peephole=False),
    _conv_case(
        "conv2d_dilated_peephole",
        L.ConvLSTM2D,
        (5, 5, 2),
        3,
        (2, 2),
        dilation_rate=(2, 1),
        padding="valid",
    ),
    _conv_case("conv2d_same_strided_peephole", L.ConvLSTM2D, (5, 6, 2), 3, 3, strides=2, padding="same"),
]

# Two random draws for each cell in each of its forms, one for the extra variants
# (every eager RNN call on JAX compiles a scan, so calls are the runtime).
TWO_DRAWS = (
    "ind_rnn",
    "mgu",
    "nas",
    "nas_projected_bias",
    "peephole_lstm",
    "layer_norm_lstm",
    "mut1_exact",
    "mut1_projected",
    "mut2_exact",
    "mut2_projected",
    "mut3",
    "conv1d_same_peephole",
    "conv1d_same_even_kernel",
    "conv2d_same_peephole",
    "conv2d_valid",
)
DRAWS = [
    pytest.param(case, seed, id=f"{case.name}-{seed}")
    for case in CASES
    for seed in ((0, 1) if case.name in TWO_DRAWS else (0,))
]

# go_backwards and an explicit initial state, on one case per cell family.
VARIANT_CASES = [
    case
    for case in CASES
    if case.name
    in (
        "peephole_lstm",
        "layer_norm_lstm",
        "mut1_projected",
        "mut2_exact",
        "ind_rnn",
        "mgu",
        "min_gru",
        "min_lstm",
        "nas_projected_bias",
        "mut3",
        "conv2d_same_peephole",
    )
]


def _numpy(tensors):
    return [np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64) for t in tensors]


def _check_against_reference(case, seed, go_backwards=False, with_initial_state=False):
    rng = np.random.default_rng([seed, CASES.index(case)])
    layer = case.make(return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.normal(size=(BATCH, TIME) + case.frame).astype("float32")
    # build() rather than a first call: on JAX every eager call of an RNN
    # traces and compiles its scan, so calls are what the runtime is made of.
    layer.build(x.shape)
    ref.randomize_weights(layer, rng)
    weights = ref.named_weights(layer)
    if case.projection is not None:
        assert ("input_projection" in weights) == case.projection, sorted(weights)

    initial_state = None
    kwargs = {}
    if with_initial_state:
        _, zero_states = case.reference(x[:, :1], weights)  # just for the state shapes
        initial_state = [rng.uniform(-1.0, 1.0, s.shape).astype("float32") for s in zero_states]
        kwargs["initial_state"] = initial_state
    outputs, *states = _numpy(layer(x, **kwargs))
    expected_outputs, expected_states = case.reference(
        x, weights, initial_state=initial_state, go_backwards=go_backwards
    )

    label = case.name + (" go_backwards" if go_backwards else "") + (" initial_state" if with_initial_state else "")
    assert outputs.shape == expected_outputs.shape
    assert len(states) == len(expected_states)
    # Every time step, then every final state.
    for t in range(TIME):
        err = ref.record_error(label, ref.relative_error(outputs[:, t], expected_outputs[:, t]))
        assert err < TOLERANCE, f"{label}: output step {t}: relative error {err:.2e}"
    for k, (state, expected) in enumerate(zip(states, expected_states)):
        err = ref.record_error(label, ref.relative_error(state, expected))
        assert err < TOLERANCE, f"{label}: final state {k}: relative error {err:.2e}"


@pytest.mark.parametrize("case, seed", DRAWS)
def test_matches_reference(case, seed):
    _check_against_reference(case, seed)


@pytest.mark.parametrize("case", VARIANT_CASES, ids=[c.name for c in VARIANT_CASES])
def test_go_backwards_matches_reference(case):
    _check_against_reference(case, seed=2, go_backwards=True)


@pytest.mark.parametrize("case", VARIANT_CASES, ids=[c.name for c in VARIANT_CASES])
def test_initial_state_matches_reference(case):
    _check_against_reference(case, seed=3, with_initial_state=True)


@pytest.mark.parametrize(
    "ours, theirs, frame, conv",
    [
        (L.ConvLSTM2D, keras.layers.ConvLSTM2D, (5, 6, 2), dict(kernel_size=(3, 2), padding="same")),
        (L.ConvLSTM2D, keras.layers.ConvLSTM2D, (5, 6, 2), dict(kernel_size=(2, 3), padding="valid")),
        (L.ConvLSTM1D, keras.layers.ConvLSTM1D, (9, 3), dict(kernel_size=3, padding="same")),
    ],
    ids=["2d_same", "2d_valid", "1d_same"],
)
def test_conv_lstm_without_peepholes_is_keras_conv_lstm(ours, theirs, frame, conv):
    rng = np.random.default_rng(7)
    kwargs = dict(return_sequences=True, return_state=True, activation="tanh", recurrent_activation="sigmoid", **conv)
    zeros = dict(kernel_initializer="zeros", recurrent_initializer="zeros")
    mine = ours(3, peephole=False, **zeros, **kwargs)
    keras_layer = theirs(3, **zeros, **kwargs)
    x = rng.normal(size=(BATCH, TIME) + frame).astype("float32")
    mine.build(x.shape)
    keras_layer.build(x.shape)
    ref.randomize_weights(mine, rng)
    weights = ref.named_weights(mine)
    assert sorted(weights) == sorted(ref.named_weights(keras_layer))
    keras_layer.cell.set_weights([weights[v.name.split("/")[-1]].astype("float32") for v in keras_layer.cell.weights])
    label = f"keras {theirs.__name__} {conv['padding']}"
    for a, b in zip(_numpy(mine(x)), _numpy(keras_layer(x))):
        err = ref.record_error(label, ref.relative_error(a, b))
        assert err < TOLERANCE, f"{label}: relative error {err:.2e}"


def _naive_conv(x, kernel, strides, padding, dilation):
    """Direct per-output-position cross-correlation, to check ``ref.conv_nd``."""
    rank = x.ndim - 2
    ks = kernel.shape[:rank]
    out_sizes, before = [], []
    for n, k, s, d in zip(x.shape[1:-1], ks, strides, dilation):
        if padding == "same":
            out = -(-n // s)
            before.append(max((out - 1) * s + d * (k - 1) + 1 - n, 0) // 2)
        else:
            out = (n - d * (k - 1) - 1) // s + 1
            before.append(0)
        out_sizes.append(out)
    y = np.zeros((x.shape[0], *out_sizes, kernel.shape[-1]))
    for pos in itertools.product(*(range(n) for n in out_sizes)):
        for offset in itertools.product(*(range(k) for k in ks)):
            src = tuple(p * s + o * d - b for p, s, o, d, b in zip(pos, strides, offset, dilation, before))
            if all(0 <= i < n for i, n in zip(src, x.shape[1:-1])):
                y[(slice(None),) + pos] += x[(slice(None),) + src] @ kernel[offset]
    return y


@pytest.mark.parametrize(
    "spatial, ks, strides, padding, dilation",
    [
        ((7,), (3,), (1,), "same", (1,)),
        ((8,), (2,), (1,), "same", (1,)),
        ((9,), (2,), (2,), "valid", (1,)),
        ((9,), (3,), (1,), "valid", (2,)),
        ((5, 6), (3, 2), (1, 1), "same", (1, 1)),
        ((5, 6), (3, 3), (2, 2), "same", (1, 1)),
        ((5, 5), (2, 2), (1, 1), "valid", (2, 1)),
    ],
)
def test_reference_convolution(spatial, ks, strides, padding, dilation):
    """The reference's own convolution against a direct loop (and padding rule)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *spatial, 3))
    kernel = rng.normal(size=ks + (3, 4))
    got = ref.conv_nd(x, kernel, strides, padding, dilation)
    np.testing.assert_allclose(got, _naive_conv(x, kernel, strides, padding, dilation), atol=1e-12)
    if padding == "same" and strides[0] == 1:
        assert got.shape[1:-1] == spatial
