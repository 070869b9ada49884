"""Evidence for issue #15: on JAX's CPU backend, no reformulation of the layer-norm LSTM beat the shipped loop.

Usage: KERAS_BACKEND=jax python benchmarks/jax_layer_norm_lstm_custom_vjp.py [--repeats 5]

One gradient step (loss ``sum(outputs * w)``, batch 128, 28 steps x 28
features, hidden 128, every output returned) of:

* ``lstm``: ``kerasrnn.layers.LSTM``, the reference of the issue's target;
* ``layer-norm-lstm``: ``kerasrnn.layers.LayerNormLSTM`` as shipped: Keras'
  ``lax.scan`` over the cell's step, each normalization with the closed-form
  gradient of ``kerasrnn.backend.jax.nn``;
* ``hoisted``: the same layer with its input projection ``LN_x(x W) + b``
  applied to the whole sequence before the scan (``hoist_input_projection``);
* ``custom-vjp``: a ``jax.custom_vjp`` over the whole recurrence on the same
  weights: a forward scan keeping each step's gates, normalized sums and
  ``1/std``; a hand-written reverse scan (the three normalizations'
  backwards in closed form, ``dx = d(xW) W^T``, ``dh = dr U^T``); both
  kernels' gradients as one matmul each over all steps after it. Its gradients are checked against the
  layer's (largest relative difference printed).

Timed interleaved (each round runs every variant 10 steps), median of the
rounds in ms per step, with the ratio ``lstm / variant`` (the issue asks for
layer-norm-lstm at >= 0.7x kerasrnn's lstm in training throughput).

On the 2-core development CPU (2026-12-02 10:14 UTC, load 0.4, nothing else
running) it printed: lstm 19.0 ms, layer-norm-lstm 28.5 (0.67x), hoisted 63.7
(0.30x), custom-vjp 29.4 (0.65x); largest gradient difference 7e-7. What the
hoisted forms lose to, seen with ``XLA_FLAGS=--xla_dump_to`` in a hoisted
custom VJP: XLA gives the kernel gradient ``x^T d(xW)`` its right operand in
a transposed layout and fuses the input normalization's backward into that
transposed write, one 12 ms fusion per gradient step at this shape.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

BATCH, STEPS, FEATURES, UNITS, EPSILON = 128, 28, 28, 128, 1e-3


def _normalize(x, epsilon):
    import jax
    import jax.numpy as jnp

    centred = x - jnp.mean(x, axis=-1, keepdims=True)
    rstd = jax.lax.rsqrt(jnp.mean(jnp.square(centred), axis=-1, keepdims=True) + epsilon)
    return centred * rstd, rstd


def _normalize_backward(grad_normed, normed, rstd):
    import jax.numpy as jnp

    return rstd * (
        grad_normed
        - jnp.mean(grad_normed, axis=-1, keepdims=True)
        - normed * jnp.mean(grad_normed * normed, axis=-1, keepdims=True)
    )


def _custom_vjp_lstm():
    """``f(x_time_major, h0, c0, W, g_x, b_x, b, U, g_h, b_h, g_c, b_c) -> (every h, last c)`` with its own VJP."""
    import jax
    import jax.numpy as jnp

    def forward_scan(x, h0, c0, kernel, g_x, b_x, bias, recurrent, g_h, b_h, g_c, b_c):
        def step(carry, x_t):
            h, c = carry
            x_normed, x_rstd = _normalize(x_t @ kernel, EPSILON)
            r_normed, r_rstd = _normalize(h @ recurrent, EPSILON)
            z = x_normed * g_x + b_x + bias + r_normed * g_h + b_h
            z_i, z_f, z_c, z_o = jnp.split(z, 4, axis=-1)
            i, f, o = jax.nn.sigmoid(z_i), jax.nn.sigmoid(z_f), jax.nn.sigmoid(z_o)
            g = jnp.tanh(z_c)
            v_normed, v_rstd = _normalize(f * c + i * g, EPSILON)
            c_new = v_normed * g_c + b_c
            tc = jnp.tanh(c_new)
            h_new = o * tc
            residual = (x_t, h, c, x_normed, x_rstd, r_normed, r_rstd, i, f, g, o, v_normed, v_rstd, tc)
            return (h_new, c_new), (h_new, residual)

        (_, c_last), (outputs, residuals) = jax.lax.scan(step, (h0, c0), x)
        return outputs, c_last, residuals

    @jax.custom_vjp
    def lstm(*args):
        outputs, c_last, _ = forward_scan(*args)
        return outputs, c_last

    def lstm_forward(*args):
        outputs, c_last, residuals = forward_scan(*args)
        _, _, _, kernel, g_x, _, _, recurrent, g_h, _, g_c, _ = args
        return (outputs, c_last), (residuals, kernel, g_x, recurrent, g_h, g_c)

    def lstm_backward(saved, grads):
        residuals, kernel, g_x, recurrent, g_h, g_c = saved
        grad_outputs, grad_c_last = grads

        def step(carry, per_step):
            dh_next, dc_next = carry
            grad_output, (_, _, c_prev, x_normed, x_rstd, r_normed, r_rstd, i, f, g, o, v_normed, v_rstd, tc) = per_step
            dh = grad_output + dh_next
            dc = dc_next + dh * o * (1 - tc * tc)
            dv = _normalize_backward(dc * g_c, v_normed, v_rstd)
            dz = jnp.concatenate(
                [dv * g * i * (1 - i), dv * c_prev * f * (1 - f), dv * i * (1 - g * g), dh * tc * o * (1 - o)], -1
            )
            dr = _normalize_backward(dz * g_h, r_normed, r_rstd)
            dxz = _normalize_backward(dz * g_x, x_normed, x_rstd)
            return (dr @ recurrent.T, dv * f), (dxz @ kernel.T, dz, dr, dxz, dc)

        zeros = jnp.zeros_like(residuals[1][0])
        (dh0, dc0), (dx, dz, dr, dxz, dc) = jax.lax.scan(
            step, (zeros, grad_c_last), (grad_outputs, residuals), reverse=True
        )
        x, h_prev, _, x_normed, _, r_normed, _, _, _, _, _, v_normed, _, _ = residuals
        rows = dz.shape[0] * dz.shape[1]

        def total(a):
            return jnp.sum(a, axis=(0, 1))

        return (
            dx,
            dh0,
            dc0,
            x.reshape(rows, -1).T @ dxz.reshape(rows, -1),
            total(dz * x_normed),
            total(dz),
            total(dz),
            h_prev.reshape(rows, -1).T @ dr.reshape(rows, -1),
            total(dz * r_normed),
            total(dz),
            total(dc * v_normed),
            total(dc),
        )

    lstm.defvjp(lstm_forward, lstm_backward)
    return lstm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from kerasrnn import layers

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((BATCH, STEPS, FEATURES)).astype("float32"))
    w = jnp.asarray(rng.standard_normal((BATCH, STEPS, UNITS)).astype("float32"))

    def layer_gradient(layer):
        layer.build((BATCH, STEPS, FEATURES))
        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(weights, x):
            outputs, _ = layer.stateless_call(weights, non_trainable, x)
            return jnp.sum(outputs * w)

        return jax.jit(jax.grad(loss, argnums=(0, 1))), trainable

    shipped = layers.LayerNormLSTM(UNITS, return_sequences=True)
    hoisted = layers.LayerNormLSTM(UNITS, return_sequences=True)
    hoisted.hoist_input_projection = True
    variants = {
        "lstm": layer_gradient(layers.LSTM(UNITS, return_sequences=True)),
        "layer-norm-lstm": layer_gradient(shipped),
        "hoisted": layer_gradient(hoisted),
    }
    hoisted.set_weights(shipped.get_weights())

    weights = {v.path.split("/")[-1]: v.value for v in shipped.trainable_variables}
    names = ["kernel", "kernel_norm_gamma", "kernel_norm_beta", "bias", "recurrent_kernel"]
    names += ["recurrent_norm_gamma", "recurrent_norm_beta", "state_norm_gamma", "state_norm_beta"]
    lstm = _custom_vjp_lstm()
    zeros = jnp.zeros((BATCH, UNITS), "float32")

    def custom_loss(ws, x):
        outputs, _ = lstm(jnp.swapaxes(x, 0, 1), zeros, zeros, *ws)
        return jnp.sum(jnp.swapaxes(outputs, 0, 1) * w)

    variants["custom-vjp"] = (jax.jit(jax.grad(custom_loss, argnums=(0, 1))), [weights[n] for n in names])

    (want_weights, want_x), (got_weights, got_x) = (
        variants["layer-norm-lstm"][0](variants["layer-norm-lstm"][1], x),
        variants["custom-vjp"][0](variants["custom-vjp"][1], x),
    )
    by_name = dict(zip([v.path.split("/")[-1] for v in shipped.trainable_variables], want_weights))
    pairs = [(got_x, want_x)] + [(g, by_name[n]) for g, n in zip(got_weights, names)]
    difference = max(float(jnp.max(jnp.abs(g - e)) / jnp.max(jnp.abs(e))) for g, e in pairs)
    print(f"custom-vjp gradients vs the layer's: largest relative difference {difference:.1e}")

    for step, arguments in variants.values():
        jax.block_until_ready(step(arguments, x))
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (step, arguments) in variants.items():
            start = time.perf_counter()
            for _ in range(10):
                jax.block_until_ready(step(arguments, x))
            times[name].append((time.perf_counter() - start) / 10 * 1e3)
    reference = float(np.median(times["lstm"]))
    for name, values in times.items():
        median = float(np.median(values))
        print(f"{name:16s} {median:6.1f} ms/step   lstm / this {reference / median:.2f}")


if __name__ == "__main__":
    main()
