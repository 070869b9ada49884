"""Evidence for issue #5: a hand-written LSTM backward pass on JAX is slower than autodiff of the scan.

Usage: python benchmarks/jax_lstm_custom_vjp.py  (pure JAX, no Keras)

Two pure-JAX LSTMs (batch 128, 28 steps x 28 features, hidden 128), same
loss and weights: ``autodiff`` is autodiff of a ``lax.scan`` over the cell;
``custom_vjp`` is a ``jax.custom_vjp`` that projects all inputs in one matmul
before the scan and computes the weight gradients after the reverse scan as
one matmul each over all steps (only ``dz @ U^T`` stays in the loop).
Prints gradient-step samples/s (median of 5 x 30 steps, twice, interleaved)
and the largest gradient difference. On the 2-core development CPU
(2026-11-26): autodiff 3,748-3,916, custom_vjp 2,580-3,012 samples/s, max diff 4e-7.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

BATCH, STEPS, FEATURES, UNITS, CLASSES = 128, 28, 28, 128, 10


def lstm_autodiff(x, kernel, recurrent_kernel, bias):
    """The last hidden state of an LSTM (gates i, f, c, o) over ``x`` (batch, time, features)."""

    def step(carry, x_t):
        h, c = carry
        i, f, g, o = jnp.split(x_t @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[0], UNITS), x.dtype)
    (h, _), _ = lax.scan(step, (zeros, zeros), jnp.swapaxes(x, 0, 1))
    return h


@jax.custom_vjp
def lstm_custom_vjp(x, kernel, recurrent_kernel, bias):
    """The same LSTM with a hand-written backward pass."""
    return _forward(x, kernel, recurrent_kernel, bias)[0]


def _forward(x, kernel, recurrent_kernel, bias):
    xs = jnp.swapaxes(x, 0, 1)  # (time, batch, features)
    projected = (xs.reshape(-1, FEATURES) @ kernel + bias).reshape(STEPS, x.shape[0], 4 * UNITS)

    def step(carry, x_proj):
        h, c = carry
        i, f, g, o = jnp.split(x_proj + h @ recurrent_kernel, 4, axis=-1)
        i, f, g, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
        c_new = f * c + i * g
        tanh_c = jnp.tanh(c_new)
        return (o * tanh_c, c_new), (h, c, jnp.concatenate([i, f, g, o], axis=-1), tanh_c)

    zeros = jnp.zeros((x.shape[0], UNITS), x.dtype)
    (h, _), saved = lax.scan(step, (zeros, zeros), projected)
    return h, (xs, kernel, recurrent_kernel, saved)


def _backward(residuals, dh_last):
    xs, kernel, recurrent_kernel, (h_prev, c_prev, gates, tanh_c) = residuals

    def step(carry, saved):
        dh, dc = carry
        c_before, gate_values, tanh_c_t = saved
        i, f, g, o = jnp.split(gate_values, 4, axis=-1)
        dc = dc + dh * o * (1 - tanh_c_t * tanh_c_t)
        dz = jnp.concatenate(
            [dc * g * i * (1 - i), dc * c_before * f * (1 - f), dc * i * (1 - g * g), dh * tanh_c_t * o * (1 - o)],
            axis=-1,
        )
        return (dz @ recurrent_kernel.T, dc * f), dz

    _, dz = lax.scan(step, (dh_last, jnp.zeros_like(dh_last)), (c_prev, gates, tanh_c), reverse=True)
    dz = dz.reshape(-1, 4 * UNITS)  # every step's gate gradients: the weight gradients are one matmul each
    d_recurrent_kernel = h_prev.reshape(-1, UNITS).T @ dz
    d_kernel = xs.reshape(-1, FEATURES).T @ dz
    dx = jnp.swapaxes((dz @ kernel.T).reshape(STEPS, -1, FEATURES), 0, 1)
    return dx, d_kernel, d_recurrent_kernel, dz.sum(axis=0)


lstm_custom_vjp.defvjp(_forward, _backward)


def gradient_step(lstm):
    def loss(params, x):
        kernel, recurrent_kernel, bias, head = params
        return jnp.sum(jax.nn.log_softmax(lstm(x, kernel, recurrent_kernel, bias) @ head))

    return jax.jit(jax.value_and_grad(loss))


def main():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((BATCH, STEPS, FEATURES)), jnp.float32)
    params = (
        jnp.asarray(rng.standard_normal((FEATURES, 4 * UNITS)) * 0.1, jnp.float32),
        jnp.asarray(rng.standard_normal((UNITS, 4 * UNITS)) * 0.1, jnp.float32),
        jnp.zeros((4 * UNITS,), jnp.float32),
        jnp.asarray(rng.standard_normal((UNITS, CLASSES)) * 0.1, jnp.float32),
    )
    variants = {"autodiff": lstm_autodiff, "custom_vjp": lstm_custom_vjp}
    for name in list(variants) * 2:  # interleaved, twice
        step = gradient_step(variants[name])
        jax.block_until_ready(step(params, x))
        seconds = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(30):
                result = step(params, x)
            jax.block_until_ready(result)
            seconds.append(time.perf_counter() - start)
        print(f"{name:10s} {30 * BATCH / np.median(seconds):,.0f} samples/s")
    reference = gradient_step(lstm_autodiff)(params, x)
    custom = gradient_step(lstm_custom_vjp)(params, x)
    difference = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree_util.tree_leaves(reference), jax.tree_util.tree_leaves(custom))
    )
    print(f"largest difference in loss and gradients: {difference:.1e}")


if __name__ == "__main__":
    main()
