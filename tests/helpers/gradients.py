"""Gradients of a layer's weighted outputs, on whichever Keras backend is active."""

import keras
import numpy as np


def gradients_of(layer, x, weights):
    """Gradients of sum(outputs * weights) w.r.t. the inputs and the trainable weights."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            loss = tf.reduce_sum(layer(x_t)[0] * weights)
        grads = tape.gradient(loss, [x_t] + [v.value for v in layer.trainable_variables])
        return [g.numpy() for g in grads]
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(x_in, train):
            outputs, _ = layer.stateless_call(train, non_trainable, x_in)
            return (outputs[0] * weights).sum()

        gx, gw = jax.grad(loss, argnums=(0, 1))(x, trainable)
        return [np.asarray(gx)] + [np.asarray(g) for g in gw]
    import torch

    params = [v.value for v in layer.trainable_variables]
    device = params[0].device  # Keras' torch device: CUDA where there is one
    x_t = torch.tensor(x, device=device, requires_grad=True)
    loss = (layer(x_t)[0] * torch.tensor(weights, device=device)).sum()
    grads = torch.autograd.grad(loss, [x_t] + params)
    return [g.detach().cpu().numpy() for g in grads]
