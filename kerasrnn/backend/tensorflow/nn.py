"""Layer normalization with a hand-written gradient for the TensorFlow backend.

The closed-form gradient of ``kerasrnn.backend.jax.nn`` (see there), as a
``tf.custom_gradient``: autodiff of the cell's formula differentiates the
mean, centring, variance and ``rsqrt`` op by op; this keeps only the
normalized input and ``1/std``. The forward pass is the cell's formula
(biased variance, epsilon inside the square root, half precision computed
in float32).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from kerasrnn.layers.tensor_types import Tensor

_LOW_PRECISION = (tf.float16, tf.bfloat16)


def _layer_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float) -> tf.Tensor:
    batch_axes = list(range(x.shape.rank - 1))

    @tf.custom_gradient
    def normalize(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) -> tuple[tf.Tensor, object]:
        centred = x - tf.reduce_mean(x, axis=-1, keepdims=True)
        rstd = tf.math.rsqrt(tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True) + epsilon)
        normed = centred * rstd

        def gradient(grad: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            grad_normed = grad * gamma
            grad_x = rstd * (
                grad_normed
                - tf.reduce_mean(grad_normed, axis=-1, keepdims=True)
                - normed * tf.reduce_mean(grad_normed * normed, axis=-1, keepdims=True)
            )
            return grad_x, tf.reduce_sum(grad * normed, axis=batch_axes), tf.reduce_sum(grad, axis=batch_axes)

        return normed * gamma + beta, gradient

    return normalize(x, gamma, beta)


def layer_norm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: float) -> tf.Tensor:
    """Layer normalization over the last axis; see ``kerasrnn.layers.layer_norm_lstm.layer_norm``."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank is None:
        raise NotImplementedError  # the reduction axes must be known
    dtype = x.dtype
    compute = tf.float32 if dtype in _LOW_PRECISION else dtype
    gamma = tf.cast(tf.convert_to_tensor(gamma), compute)
    beta = tf.cast(tf.convert_to_tensor(beta), compute)
    return tf.cast(_layer_norm(tf.cast(x, compute), gamma, beta, float(epsilon)), dtype)
