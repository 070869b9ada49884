"""Between feature sequences and frame sequences, keeping the time-step mask.

``convlstm`` reads a ``(time, features)`` sequence (an MNIST image row by
row) as 1-D frames of ``features`` pixels and one channel, and its head
needs one vector per frame again. Keras' ``Reshape`` drops the mask of
padded time steps, and ``TimeDistributed`` around a pooling layer needs a
known time length on TensorFlow; these two layers do the reshaping with the
mask passed through unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from kerasrnn.layers.tensor_types import Shape, Tensor


@keras.saving.register_keras_serializable(package="kerasrnn")
class FeaturesAsFrames(keras.layers.Layer):
    """``(batch, time, features)`` -> ``(batch, time, features, 1)``: 1-D one-channel frames."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, sequences: Tensor) -> Tensor:
        if len(sequences.shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects (batch, time, features); received shape {tuple(sequences.shape)}."
            )
        return ops.expand_dims(sequences, -1)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return tuple(input_shape) + (1,)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None = None) -> Tensor | None:
        return mask


@keras.saving.register_keras_serializable(package="kerasrnn")
class FlattenFrames(keras.layers.Layer):
    """Flattens every frame into one vector: ``(batch, [time,] *frame)`` -> ``(batch, [time,] size)``.

    Args:
        frame_rank: Number of trailing axes that make one frame (spatial axes
            and channels: 2 for ConvLSTM1D outputs, 3 for ConvLSTM2D).
    """

    def __init__(self, frame_rank: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(frame_rank, int) or frame_rank < 1:
            raise ValueError(f"`frame_rank` must be a positive integer; received {frame_rank!r}.")
        self.frame_rank = frame_rank
        self.supports_masking = True

    def _frame_size(self, shape: Shape) -> int:
        frame = tuple(shape[-self.frame_rank :])
        if len(shape) < self.frame_rank + 1 or any(d is None for d in frame):
            raise ValueError(
                f"{type(self).__name__} needs a batch axis and a known frame of {self.frame_rank} axes; "
                f"received shape {tuple(shape)}."
            )
        return math.prod(frame)

    def call(self, frames: Tensor) -> Tensor:
        size = self._frame_size(frames.shape)
        leading = ops.shape(frames)[: len(frames.shape) - self.frame_rank]
        return ops.reshape(frames, tuple(leading) + (size,))

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return tuple(input_shape[: len(input_shape) - self.frame_rank]) + (self._frame_size(input_shape),)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None = None) -> Tensor | None:
        return mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "frame_rank": self.frame_rank}
