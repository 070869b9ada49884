"""Layer normalization with a hand-written gradient for the JAX backend.

Autodiff of the cell's ``layer_norm`` (mean, centring, variance, ``rsqrt``,
scale and shift) keeps every intermediate and differentiates each op in turn:
in a layer-normalized LSTM, three normalizations per step, the backward pass
costs about three times the forward pass. Here ``jax.custom_vjp`` gives the
closed form,

.. math::

    \\hat x = (x - \\mu)\\, r, \\quad r = 1 / \\sqrt{\\sigma^2 + \\epsilon}, \\qquad
    \\partial x = r \\big(\\partial\\hat x - \\overline{\\partial\\hat x}
    - \\hat x\\, \\overline{\\partial\\hat x \\odot \\hat x}\\big),
    \\quad \\partial\\hat x = \\gamma \\odot \\partial y

(bars: means over the feature axis), keeping only :math:`\\hat x` and
:math:`r`. The forward pass is the cell's formula op for op (biased variance,
epsilon inside the square root, half precision computed in float32).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

if TYPE_CHECKING:
    from kerasrnn.layers.tensor_types import Tensor

_LOW_PRECISION = (jnp.float16, jnp.bfloat16)


def _normalize(x: jax.Array, epsilon: float) -> tuple[jax.Array, jax.Array]:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    rstd = jax.lax.rsqrt(jnp.mean(jnp.square(centred), axis=-1, keepdims=True) + epsilon)
    return centred * rstd, rstd


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _layer_norm(x: jax.Array, gamma: jax.Array, beta: jax.Array, epsilon: float) -> jax.Array:
    return _normalize(x, epsilon)[0] * gamma + beta


def _forward(
    x: jax.Array, gamma: jax.Array, beta: jax.Array, epsilon: float
) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array]]:
    normed, rstd = _normalize(x, epsilon)
    return normed * gamma + beta, (normed, rstd, gamma)


def _backward(
    epsilon: float, residuals: tuple[jax.Array, jax.Array, jax.Array], grad: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    normed, rstd, gamma = residuals
    grad_normed = grad * gamma
    grad_x = rstd * (
        grad_normed
        - jnp.mean(grad_normed, axis=-1, keepdims=True)
        - normed * jnp.mean(grad_normed * normed, axis=-1, keepdims=True)
    )
    batch_axes = tuple(range(grad.ndim - 1))
    return grad_x, jnp.sum(grad * normed, axis=batch_axes), jnp.sum(grad, axis=batch_axes)


_layer_norm.defvjp(_forward, _backward)


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: float) -> jax.Array:
    """Layer normalization over the last axis; see ``kerasrnn.layers.layer_norm_lstm.layer_norm``."""
    x = jnp.asarray(x)
    dtype = x.dtype
    compute = jnp.float32 if dtype in _LOW_PRECISION else dtype
    gamma = jnp.asarray(gamma).astype(compute)
    beta = jnp.asarray(beta).astype(compute)
    return _layer_norm(x.astype(compute), gamma, beta, float(epsilon)).astype(dtype)
