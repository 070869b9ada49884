"""The two computations every decoder runs, compiled once per model where the backend allows.

:func:`encoder_function` gives ``source -> (memory, memory_mask, states,
keys)`` and :func:`step_function` gives ``(tokens, states, order, memory,
memory_mask, keys) -> (log_probs, states, alignment)``: the states are first
reordered by ``order`` (the beams' parents; ``arange`` for greedy decoding),
then one :meth:`~kerasrnn.models.encoder_decoder.EncoderDecoder.decode_step`
runs and its logits become log-probabilities. Tensors stay on the device
between steps; the decoders' bookkeeping (choices, scores, finished rows) is
NumPy on the host, which the per-step transfer of ``(batch, vocabulary)``
log-probabilities makes cheap.

Compilation, per backend:

* JAX: ``jax.jit`` of a pure function of the model's variables (read through
  ``keras.StatelessScope``), so the compiled step always sees the current
  weights; compiled again for each new shape (batch, source length).
* TensorFlow: ``tf.function`` (a graph, ``reduce_retracing``); XLA
  (``jit_compile=True``) is not used (not measured here).
* torch: eager under ``torch.no_grad()``; ``torch.compile`` is not tried.

``compiled=False`` gives the eager functions (for comparison and debugging).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

from kerasrnn.layers.tensor_types import Tensor

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _encode(model: Any, source: Tensor) -> tuple[Tensor, Tensor, list[Tensor], Tensor | None]:
    memory, memory_mask, states = model.encode(source, training=False)
    keys = model.memory_keys(memory) if hasattr(model, "memory_keys") else None
    return memory, memory_mask, list(states), keys


def _step(
    model: Any,
    tokens: Tensor,
    states: Sequence[Tensor],
    order: Tensor,
    memory: Tensor,
    memory_mask: Tensor,
    keys: Tensor | None,
) -> tuple[Tensor, list[Tensor], Tensor | None]:
    states = [ops.take(state, order, axis=0) for state in states]
    logits, states, alignment = model.decode_step(tokens, states, memory, memory_mask, keys=keys)
    return ops.log_softmax(ops.cast(logits, "float32"), axis=-1), list(states), alignment


def _jax_compiled(model: Any, function: Callable) -> Callable:
    import jax

    variables = list(model.variables)

    def pure(values: list, *args: Any) -> Any:
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return function(model, *args)

    jitted = jax.jit(pure)
    return lambda *args: jitted([variable.value for variable in variables], *args)


def _tensorflow_compiled(model: Any, function: Callable) -> Callable:
    import tensorflow as tf

    return tf.function(lambda *args: function(model, *args), reduce_retracing=True)


def _torch_no_grad(model: Any, function: Callable) -> Callable:
    import torch

    def run(*args: Any) -> Any:
        with torch.no_grad():
            return function(model, *args)

    return run


def _eager(model: Any, function: Callable) -> Callable:
    if keras.backend.backend() == "torch":
        return _torch_no_grad(model, function)
    return lambda *args: function(model, *args)


def _functions(model: Any, compiled: bool) -> tuple[Callable, Callable]:
    if hasattr(model, "ensure_built"):
        model.ensure_built()  # weights are made eagerly, never inside a compiled function
    backend = keras.backend.backend()
    if not compiled or backend not in ("jax", "tensorflow"):
        return _eager(model, _encode), _eager(model, _step)
    key = (backend, compiled)
    cached = _CACHE.setdefault(model, {})
    if key not in cached:
        make = _jax_compiled if backend == "jax" else _tensorflow_compiled
        cached[key] = (make(model, _encode), make(model, _step))
    return cached[key]


def encoder_function(model: Any, compiled: bool = True) -> Callable:
    """``source -> (memory, memory_mask, states, keys)`` for ``model`` (keys ``None`` without attention)."""
    return _functions(model, compiled)[0]


def step_function(model: Any, compiled: bool = True) -> Callable:
    """``(tokens, states, order, memory, memory_mask, keys) -> (log_probs, states, alignment)`` for ``model``."""
    return _functions(model, compiled)[1]
