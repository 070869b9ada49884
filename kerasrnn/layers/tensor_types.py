"""The type aliases of kerasrnn's annotations: tensors, shapes, Keras identifiers.

Keras 3 has no public type for "a tensor of whichever backend is active", so
the layers' and backend functions' annotations use these names; they are for
readers and type checkers and change nothing at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

Tensor: TypeAlias = Any
"""A tensor of the active backend (``tf.Tensor``, ``jax.Array``, ``torch.Tensor``),
a ``keras.Variable``, a symbolic ``keras.KerasTensor`` or a NumPy array: what
``keras.ops`` takes."""

Shape: TypeAlias = Sequence[int | None]
"""A shape as Keras passes it to ``build`` and ``compute_output_shape``: a tuple
(or list) of ints, ``None`` where unknown (the batch size, often the time)."""

Identifier: TypeAlias = str | dict[str, Any] | Callable[..., Any] | None
"""What ``keras.activations.get``, ``keras.initializers.get``,
``keras.regularizers.get`` and ``keras.constraints.get`` take: a name, a
serialized config, an object (or function), or ``None``."""
