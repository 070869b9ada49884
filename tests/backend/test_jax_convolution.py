"""The JAX backend's convolution (one matmul over the frames' patches) against ``keras.ops.conv``.

``kerasrnn.backend.jax.nn.convolution`` replaces ``keras.ops.conv`` (+ bias)
in the ConvLSTM cell's input and recurrent convolutions on JAX; values and
gradients (frames, kernel, bias) must match the ``keras.ops`` form: tightly
in float64, at float32 closeness in float32, for every rank, padding,
stride, dilation and even or odd kernel it takes. The cases it refuses raise
``NotImplementedError``, and the dispatcher (``kerasrnn.backend``) then
runs ``keras.ops.conv``. A ConvLSTM2D trained through it matches the same
layer on ``keras.ops.conv``.
"""

import keras
import numpy as np
import pytest

from kerasrnn import backend as fast_paths
from kerasrnn import layers
from tests.helpers.convolution_cases import CONVOLUTIONS, keras_conv

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX-only fast path")


def _tensors(dtype, *shapes):
    rng = np.random.default_rng(0)
    return [rng.normal(size=shape).astype(dtype) for shape in shapes]


def _value_and_grads(function, tensors, weights):
    import jax

    def loss(*arguments):
        return (function(*arguments) * weights).sum()

    return [np.asarray(function(*tensors))] + [
        np.asarray(g) for g in jax.grad(loss, argnums=tuple(range(len(tensors))))(*tensors)
    ]


def _compare(case, with_bias, dtype, rtol):
    from kerasrnn.backend.jax import nn

    frames_shape, kernel_shape, options = CONVOLUTIONS[case]
    tensors = _tensors(dtype, frames_shape, kernel_shape, (kernel_shape[-1],))
    if not with_bias:
        tensors = tensors[:2]

    def fast(x, kernel, bias=None):
        return nn.convolution(x, kernel, bias, data_format="channels_last", **options)

    reference = keras_conv(options)

    want_value = np.asarray(reference(*tensors))
    weights = _tensors(dtype, want_value.shape)[0]
    got, want = _value_and_grads(fast, tensors, weights), _value_and_grads(reference, tensors, weights)
    assert got[0].shape == want[0].shape and got[0].dtype == want[0].dtype
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, float(np.abs(w).max())))


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("case", list(CONVOLUTIONS))
def test_convolution_matches_keras_conv_float64(case, with_bias, x64):
    _compare(case, with_bias, "float64", rtol=1e-10)


@pytest.mark.parametrize("case", list(CONVOLUTIONS))
def test_convolution_matches_keras_conv_float32(case):
    _compare(case, True, "float32", rtol=1e-5)


@pytest.mark.parametrize(
    "arguments, frames_shape",
    [
        ({"padding": "same", "data_format": "channels_first", "strides": 1, "dilation_rate": 1}, (2, 9, 3)),
        ({"padding": "same", "data_format": "channels_last", "strides": 2, "dilation_rate": 1}, (2, 9, 3)),
        ({"padding": "valid", "data_format": "channels_last", "strides": 1, "dilation_rate": 4}, (2, 8, 3)),
        ({"padding": "causal", "data_format": "channels_last", "strides": 1, "dilation_rate": 1}, (2, 9, 3)),
    ],
    ids=["channels-first", "same-strided", "frame-smaller-than-dilated-kernel", "causal"],
)
def test_convolution_refuses_what_it_does_not_cover(arguments, frames_shape):
    from kerasrnn.backend.jax import nn

    x, kernel, bias = _tensors("float32", frames_shape, (3, 3, 5), (5,))
    with pytest.raises(NotImplementedError):
        nn.convolution(x, kernel, bias, **arguments)


def test_dispatcher_falls_back_to_keras_conv_where_refused():
    x, kernel, bias = _tensors("float32", (2, 9, 3), (3, 3, 5), (5,))
    got = fast_paths.convolution(x, kernel, bias, 2, "same", "channels_last", 1)
    want = keras.ops.conv(x, kernel, strides=2, padding="same") + bias
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


def _refused(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("peephole", [True, False], ids=["peephole", "plain"])
def test_conv_lstm_trains_the_same_through_it(peephole, monkeypatch):
    """Outputs and every gradient of a ConvLSTM2D: patch matmuls against ``keras.ops.conv``."""
    import jax
    import jax.numpy as jnp

    layer = layers.ConvLSTM2D(3, (3, 2), padding="same", peephole=peephole, return_sequences=True)
    x = _tensors("float32", (2, 4, 5, 6, 2))[0]
    layer.build(x.shape)
    weights = _tensors("float32", (2, 4, 5, 6, 3))[0]
    calls = []
    from kerasrnn.backend.jax import nn

    original = nn.convolution
    monkeypatch.setattr(nn, "convolution", lambda *a: calls.append(1) or original(*a))

    def run():
        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(trainable, x):
            outputs, _ = layer.stateless_call(trainable, non_trainable, x, training=True)
            return jnp.sum(outputs * weights)

        grads = jax.grad(loss, argnums=(0, 1))(trainable, jnp.asarray(x))
        return [np.asarray(g) for g in jax.tree.leaves(grads)]

    fast = run()
    assert calls, "the JAX patch convolution was not used"
    monkeypatch.setattr(nn, "convolution", _refused)
    loop = run()
    assert len(fast) == len(layer.trainable_variables) + 1
    for got, want in zip(fast, loop):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))
