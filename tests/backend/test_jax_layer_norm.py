"""The JAX backend's layer normalization (hand-written gradient) against autodiff of the cell's formula.

``kerasrnn.backend.jax.nn.layer_norm`` replaces ``reference_layer_norm`` in
the layer-normalized cells on JAX; values and gradients (input, scale,
shift) must match autodiff of the formula: tightly in float64 against the
formula in plain ``jax.numpy`` (Keras' ``ops.rsqrt`` on JAX rounds float64
to about 1e-8), and in float32 against ``reference_layer_norm`` itself, on
inputs with one and two leading axes.
"""

import keras
import numpy as np
import pytest

from kerasrnn.layers.layer_norm_lstm import LayerNormLSTM, reference_layer_norm

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX-only fast path")


def _value_and_grads(function, x, gamma, beta, weights):
    import jax

    def loss(x, gamma, beta):
        return (function(x, gamma, beta, 1e-3).astype(weights.dtype) * weights).sum()

    value = function(x, gamma, beta, 1e-3)
    return [np.asarray(value, dtype="float64")] + [
        np.asarray(g, dtype="float64") for g in jax.grad(loss, argnums=(0, 1, 2))(x, gamma, beta)
    ]


def _formula(x, gamma, beta, epsilon):
    import jax.numpy as jnp

    mean = jnp.mean(x, axis=-1, keepdims=True)
    variance = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(variance + epsilon) * gamma + beta


@pytest.mark.parametrize(
    "dtype,shape,rtol,atol",
    [("float64", (3, 8), 1e-12, 1e-12), ("float64", (2, 4, 8), 1e-12, 1e-12), ("float32", (3, 8), 1e-5, 1e-5)],
)
def test_matches_autodiff_of_the_formula(dtype, shape, rtol, atol, x64):
    from kerasrnn.backend.jax.nn import layer_norm

    rng = np.random.default_rng(0)
    x = (rng.normal(size=shape) * 3 + 1).astype(dtype)
    gamma, beta = (rng.normal(size=shape[-1:]).astype(dtype) for _ in range(2))
    weights = rng.normal(size=shape).astype(dtype)
    for got, want in zip(
        _value_and_grads(layer_norm, x, gamma, beta, weights),
        _value_and_grads(_formula if dtype == "float64" else reference_layer_norm, x, gamma, beta, weights),
    ):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def test_half_precision_is_computed_in_float32():
    from kerasrnn.backend.jax.nn import layer_norm

    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 8)).astype("float16")
    gamma, beta = np.ones(8, "float16"), np.zeros(8, "float16")
    got = layer_norm(x, gamma, beta, 1e-3)
    assert got.dtype == np.float16
    np.testing.assert_allclose(np.asarray(got), np.asarray(reference_layer_norm(x, gamma, beta, 1e-3)), atol=1e-3)


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
