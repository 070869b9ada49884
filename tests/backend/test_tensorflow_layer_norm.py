"""The TensorFlow backend's layer normalization (``tf.custom_gradient``) against autodiff of the formula.

Values and gradients (input, scale, shift) of
``kerasrnn.backend.tensorflow.nn.layer_norm`` against the tape's autodiff of
the same formula: float64 tightly, float32 against ``reference_layer_norm``.
"""

import keras
import numpy as np
import pytest

from kerasrnn.layers.layer_norm_lstm import LayerNormLSTM, reference_layer_norm

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow-only fast path")


def _formula(x, gamma, beta, epsilon):
    import tensorflow as tf

    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    variance = tf.reduce_mean(tf.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) / tf.sqrt(variance + epsilon) * gamma + beta


def _value_and_grads(function, x, gamma, beta, weights):
    import tensorflow as tf

    x, gamma, beta = (tf.constant(a) for a in (x, gamma, beta))
    with tf.GradientTape() as tape:
        tape.watch([x, gamma, beta])
        value = function(x, gamma, beta, 1e-3)
        loss = tf.reduce_sum(value * weights)
    return [value.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, gamma, beta])]


@pytest.mark.parametrize(
    "dtype,shape,rtol,atol",
    [("float64", (3, 8), 1e-12, 1e-12), ("float64", (2, 4, 8), 1e-12, 1e-12), ("float32", (3, 8), 1e-5, 1e-5)],
)
def test_matches_autodiff_of_the_formula(dtype, shape, rtol, atol):
    from kerasrnn.backend.tensorflow.nn import layer_norm

    rng = np.random.default_rng(0)
    x = (rng.normal(size=shape) * 3 + 1).astype(dtype)
    gamma, beta = (rng.normal(size=shape[-1:]).astype(dtype) for _ in range(2))
    weights = rng.normal(size=shape).astype(dtype)
    reference = _formula if dtype == "float64" else reference_layer_norm
    for got, want in zip(
        _value_and_grads(layer_norm, x, gamma, beta, weights), _value_and_grads(reference, x, gamma, beta, weights)
    ):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def test_layer_norm_lstm_uses_it(monkeypatch):
    from kerasrnn import backend as fast_paths

    calls = []
    original = fast_paths.layer_norm

    def counted(*args):
        calls.append(True)
        return original(*args)

    monkeypatch.setattr(fast_paths, "layer_norm", counted)
    LayerNormLSTM(4)(np.zeros((2, 3, 5), "float32"))
    assert calls
