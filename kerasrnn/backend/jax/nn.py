"""The JAX backend's fast paths for kerasrnn's layers: layer normalization and a ConvLSTM's convolutions.

**Layer normalization with a hand-written gradient.** Autodiff of the cell's
``layer_norm`` (mean, centring, variance, ``rsqrt``, scale and shift) keeps
every intermediate and differentiates each op in turn: in a
layer-normalized LSTM, three normalizations per step, the backward pass
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

**Convolutions as one matmul over the frames' patches.** Inside the
``lax.scan`` of a ConvLSTM, XLA's CPU convolutions run several times slower
than the same convolutions outside a loop: on a 2-core CPU, the gradient of
a pure-JAX ConvLSTM1D over 28 steps (batch 128, 28 pixels, 16 filters,
kernel 3) took 320-329 ms with ``lax.conv_general_dilated`` and 74-78 ms
with each convolution a matmul of the ``(pixels, kernel positions x
channels)`` patch matrix with the kernel. The patches are gathered by
slicing the padded frames once per kernel position; under ``jax.checkpoint``
they are gathered again in the backward pass instead of kept, so the
memory is that of the convolution.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

from kerasrnn.backend import per_axis

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


@partial(jax.checkpoint, static_argnums=(2, 3, 4))
def _patch_convolution(
    frames: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
) -> jax.Array:
    frames = jnp.pad(frames, ((0, 0), *padding, (0, 0)))
    window = kernel.shape[:-2]
    out = [(size - (k - 1) * d - 1) // s + 1 for size, k, d, s in zip(frames.shape[1:-1], window, dilation, strides)]
    patches = [
        frames[
            (slice(None),)
            + tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, s, n in zip(offset, dilation, strides, out))
        ]
        for offset in itertools.product(*(range(k) for k in window))
    ]
    # Kernel positions major, channels minor: the order of ``kernel.reshape(-1, filters)``.
    return jnp.concatenate(patches, axis=-1) @ kernel.reshape(-1, kernel.shape[-1])


def convolution(
    frames: Tensor,
    kernel: Tensor,
    bias: Tensor | None,
    strides: Sequence[int],
    padding: str,
    data_format: str,
    dilation_rate: Sequence[int],
) -> jax.Array:
    """Keras' ``conv`` + bias on channels-last frames as a patch matmul; see ``kerasrnn.backend.convolution``.

    ``"same"`` pads as XLA does (the odd pixel after); strided ``"same"``,
    channels first, and frames smaller than the dilated kernel raise
    ``NotImplementedError`` (``keras.ops.conv`` then).
    """
    if data_format != "channels_last" or padding not in ("valid", "same"):
        raise NotImplementedError
    frames, kernel = jnp.asarray(frames), jnp.asarray(kernel)
    rank = frames.ndim - 2
    if rank < 1 or kernel.ndim != rank + 2 or frames.dtype != kernel.dtype:
        raise NotImplementedError
    strides, dilation = per_axis(strides, rank), per_axis(dilation_rate, rank)
    window = kernel.shape[:rank]
    if padding == "same":
        if any(s != 1 for s in strides):
            raise NotImplementedError  # Keras' own "same" arithmetic for strided convolutions
        spans = [(k - 1) * d for k, d in zip(window, dilation)]
        pads = tuple((span // 2, span - span // 2) for span in spans)
    else:
        pads = ((0, 0),) * rank
        if any(size < (k - 1) * d + 1 for size, k, d in zip(frames.shape[1:-1], window, dilation)):
            raise NotImplementedError
    z = _patch_convolution(frames, kernel, strides, dilation, pads)
    return z if bias is None else z + jnp.asarray(bias).astype(z.dtype)
