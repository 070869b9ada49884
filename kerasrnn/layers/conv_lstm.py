"""Convolutional LSTM with optional peepholes (Shi et al., 2015), any spatial rank.

The generic base of :class:`~kerasrnn.layers.ConvLSTM1D` and
:class:`~kerasrnn.layers.ConvLSTM2D`, as Keras' private ``conv_lstm.py`` is
for its ``ConvLSTM{1,2,3}D``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import constraints, initializers, ops, regularizers

from kerasrnn import backend as fast_paths
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent_cell import RecurrentCell
from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor


def _as_tuple(value: int | Sequence[int], rank: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"`{name}` must be an int or a tuple of {rank} ints; received {value}.")
    return value


def conv_output_length(length: int, kernel_size: int, stride: int, padding: str, dilation: int) -> int:
    """Length of one spatial axis after a convolution."""
    if padding == "same":
        return math.ceil(length / stride)
    return (length - dilation * (kernel_size - 1) - 1) // stride + 1


@keras.saving.register_keras_serializable(package="kerasrnn")
class ConvLSTMCell(RecurrentCell):
    r"""Convolutional LSTM cell, with the Hadamard peepholes of Shi et al. (2015).

    Shi, Chen, Wang, Yeung, Wong & Woo, "Convolutional LSTM Network: A Machine
    Learning Approach for Precipitation Nowcasting", NeurIPS 2015, eq. (3),
    with :math:`*` a convolution and :math:`\odot` the Hadamard product:

    .. math::

        i_t &= \sigma(W_{xi} * X_t + W_{hi} * H_{t-1} + W_{ci} \odot C_{t-1} + b_i) \\
        f_t &= \sigma(W_{xf} * X_t + W_{hf} * H_{t-1} + W_{cf} \odot C_{t-1} + b_f) \\
        C_t &= f_t \odot C_{t-1} + i_t \odot \tanh(W_{xc} * X_t + W_{hc} * H_{t-1} + b_c) \\
        o_t &= \sigma(W_{xo} * X_t + W_{ho} * H_{t-1} + W_{co} \odot C_t + b_o) \\
        H_t &= o_t \odot \tanh(C_t)

    With ``peephole=False`` the :math:`W_c \odot C` terms are dropped, which
    is exactly the math of ``keras.layers.ConvLSTM2D``. The input convolution
    uses ``strides``, ``padding`` and ``dilation_rate``; the recurrent
    convolution uses stride 1 and ``"same"`` padding, as in Keras.

    Weights (gate order **i, f, c, o**; ``k`` is ``kernel_size``):

    * ``kernel``: ``k + (input_channels, 4 * filters)``
    * ``recurrent_kernel``: ``k + (filters, 4 * filters)``
    * ``bias``: ``(4 * filters,)``, the forget part starting at 1 when
      ``unit_forget_bias``
    * with ``peephole=True``: ``input_gate_peephole``,
      ``forget_gate_peephole``, ``output_gate_peephole``, each of the state's
      shape (one weight per channel *and* position, as in the paper), e.g.
      ``(rows, cols, filters)`` for 2-D ``channels_last``. The spatial size
      must therefore be known when the layer is built.

    States ``[H, C]``, each of shape ``(batch, *spatial_out, filters)``
    (channels_last); the output is ``H``.

    Args:
        rank: Number of spatial dimensions (1 or 2 via the public layers; 3
            works too).
        filters: Number of output channels.
        kernel_size, strides, padding, dilation_rate, data_format: As in
            ``keras.layers.ConvLSTM2D``.
        peephole: Whether to add the Hadamard peepholes.
        unit_forget_bias: Start the forget-gate bias at 1.
        peephole_initializer, peephole_regularizer, peephole_constraint:
            For the peephole weights (zeros by default, so a fresh cell
            starts as the plain ConvLSTM).
        **kwargs: See :class:`~kerasrnn.layers.recurrent_cell.RecurrentCell`.
    """

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = 1,
        peephole: bool = True,
        unit_forget_bias: bool = True,
        peephole_initializer: Identifier = "zeros",
        peephole_regularizer: Identifier = None,
        peephole_constraint: Identifier = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(filters, **kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(f"ConvLSTMCell supports rank 1, 2 or 3; received rank={rank}.")
        self.rank = rank
        self.filters = filters
        self.kernel_size = _as_tuple(kernel_size, rank, "kernel_size")
        self.strides = _as_tuple(strides, rank, "strides")
        self.dilation_rate = _as_tuple(dilation_rate, rank, "dilation_rate")
        padding = padding.lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"`padding` must be 'valid' or 'same'; received {padding!r}.")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` is not compatible with `dilation_rate > 1`; "
                f"received strides={self.strides}, dilation_rate={self.dilation_rate}."
            )
        self.padding = padding
        self.data_format = data_format or keras.config.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"`data_format` must be 'channels_last' or 'channels_first'; received {data_format!r}.")
        self.peephole = bool(peephole)
        self.unit_forget_bias = unit_forget_bias
        self.peephole_initializer = initializers.get(peephole_initializer)
        self.peephole_regularizer = regularizers.get(peephole_regularizer)
        self.peephole_constraint = constraints.get(peephole_constraint)
        self.spatial_dims = None
        self.input_channels = None
        self.state_size = [filters, filters]

    @property
    def channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def state_shape(self, batch_size: int | None) -> tuple[int | None, ...]:
        """The shape of ``H`` and ``C`` for a batch (after the input convolution)."""
        spatial = tuple(
            conv_output_length(n, k, s, self.padding, d)
            for n, k, s, d in zip(self.spatial_dims, self.kernel_size, self.strides, self.dilation_rate)
        )
        if self.data_format == "channels_last":
            return (batch_size, *spatial, self.filters)
        return (batch_size, self.filters, *spatial)

    def build(self, input_shape: Shape) -> None:
        expected_ndim = self.rank + 2
        if len(input_shape) != expected_ndim:
            raise ValueError(
                f"ConvLSTMCell '{self.name}' (rank {self.rank}) expects frames of "
                f"rank {expected_ndim} (batch, *spatial, channels); received frame "
                f"shape {tuple(input_shape)}."
            )
        if self.data_format == "channels_last":
            spatial, channels = input_shape[1:-1], input_shape[-1]
        else:
            spatial, channels = input_shape[2:], input_shape[1]
        if None in spatial or channels is None:
            raise ValueError(
                f"ConvLSTMCell '{self.name}' needs static spatial and channel "
                f"sizes; received frame shape {tuple(input_shape)}."
            )
        self.spatial_dims = tuple(int(n) for n in spatial)
        self.input_channels = int(channels)
        state_spatial = self.state_shape(1)[1:]
        if min(state_spatial) <= 0:
            raise ValueError(
                f"ConvLSTMCell '{self.name}': frames of spatial size "
                f"{self.spatial_dims} are smaller than the kernel {self.kernel_size} "
                f"with padding '{self.padding}'."
            )
        self.kernel = self.add_weight(
            shape=self.kernel_size + (self.input_channels, 4 * self.filters),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=self.kernel_size + (self.filters, 4 * self.filters),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = self.add_lstm_bias(self.unit_forget_bias)
        if self.peephole:
            self.input_gate_peephole, self.forget_gate_peephole, self.output_gate_peephole = (
                self.add_weight(
                    shape=state_spatial,
                    name=name,
                    initializer=self.peephole_initializer,
                    regularizer=self.peephole_regularizer,
                    constraint=self.peephole_constraint,
                )
                for name in ("input_gate_peephole", "forget_gate_peephole", "output_gate_peephole")
            )

    def get_initial_state(self, batch_size: int | Tensor | None = None) -> list[Tensor]:
        shape = self.state_shape(batch_size)
        return [ops.zeros(shape, dtype=self.compute_dtype) for _ in range(2)]

    def project_inputs(self, inputs: Tensor) -> Tensor:
        # The input convolution (+ bias) for frames with any leading axes.
        frame_rank = self.rank + 1
        leading = ops.shape(inputs)[: len(inputs.shape) - frame_rank]
        frames = ops.reshape(inputs, (-1,) + tuple(inputs.shape[-frame_rank:]))
        z = fast_paths.convolution(
            frames,
            self.kernel,
            self.bias if self.use_bias else None,
            self.strides,
            self.padding,
            self.data_format,
            self.dilation_rate,
        )
        return ops.reshape(z, tuple(leading) + tuple(z.shape[1:]))

    def recurrent_step(
        self, projected: Tensor, states: Sequence[Tensor], training: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        h_tm1, c_tm1 = states
        h = self.dropped_state(h_tm1, training)
        ones = (1,) * self.rank
        z = projected + fast_paths.convolution(h, self.recurrent_kernel, None, ones, "same", self.data_format, ones)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=self.channel_axis)
        if self.peephole:
            z_i = z_i + self.input_gate_peephole * c_tm1
            z_f = z_f + self.forget_gate_peephole * c_tm1
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_c)
        if self.peephole:
            z_o = z_o + self.output_gate_peephole * c
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("units")
        config.update(
            {
                "rank": self.rank,
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "peephole": self.peephole,
                "unit_forget_bias": self.unit_forget_bias,
                "peephole_initializer": initializers.serialize(self.peephole_initializer),
                "peephole_regularizer": regularizers.serialize(self.peephole_regularizer),
                "peephole_constraint": constraints.serialize(self.peephole_constraint),
            }
        )
        return config


class ConvLSTM(CellRNN):
    """Base of the N-D ConvLSTM layers: inputs ``(batch, time, *spatial, channels)``.

    Subclasses set ``rank``. Unlike a plain ``keras.layers.RNN``, this layer
    computes its image-shaped output and state shapes itself.
    """

    cell_class = ConvLSTMCell
    rank = None  # set by each subclass

    @classmethod
    def cell_argument_names(cls) -> list[str]:
        return [name for name in super().cell_argument_names() if name != "rank"]

    @property
    def sequence_ndim(self) -> int:
        return self.rank + 3

    def make_cell(self, *args: Any, **kwargs: Any) -> ConvLSTMCell:
        return self.cell_class(self.rank, *args, **kwargs)

    @property
    def filters(self) -> int:
        return self.cell.filters

    def call(
        self,
        sequences: Tensor,
        initial_state: Sequence[Tensor] | None = None,
        mask: Tensor | None = None,
        training: bool = False,
    ) -> Tensor | tuple[Tensor, ...]:
        if mask is not None and len(mask.shape) == 2:
            # Give the (batch, time) mask the states' rank. Keras' JAX loop
            # broadcasts a (batch, 1) step mask against (batch, *spatial,
            # filters) states along the wrong axis (wrong numbers in 2-D, a
            # crash in 1-D); TF and torch accept either form.
            mask = ops.reshape(mask, tuple(ops.shape(mask)) + (1,) * (self.rank + 1))
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def whole_sequence(
        self, sequences: Tensor, initial_state: Sequence[Tensor], mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, Sequence[Tensor]]:
        cell = self.cell
        return fast_paths.conv_lstm(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            recurrent_kernel=cell.recurrent_kernel,
            peepholes=(
                (cell.input_gate_peephole, cell.forget_gate_peephole, cell.output_gate_peephole)
                if cell.peephole
                else None
            ),
            data_format=cell.data_format,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            **self.sequence_options(training),
        )

    def build(self, sequences_shape: Shape, initial_state_shape: Sequence[Shape] | None = None) -> None:
        super().build(sequences_shape, initial_state_shape)
        self.input_spec = keras.layers.InputSpec(
            ndim=self.sequence_ndim, shape=(None, None) + tuple(sequences_shape[2:])
        )

    def compute_output_shape(
        self, sequences_shape: Shape, initial_state_shape: Sequence[Shape] | None = None
    ) -> tuple[int | None, ...] | tuple[tuple[int | None, ...], ...]:
        batch_size, steps = sequences_shape[0], sequences_shape[1]
        if self.cell.spatial_dims is None:
            frame = (batch_size,) + tuple(sequences_shape[2:])
            self.cell.spatial_dims = tuple(frame[1:-1] if self.cell.data_format == "channels_last" else frame[2:])
        state_shape = self.cell.state_shape(batch_size)
        output_shape = (batch_size, steps) + state_shape[1:] if self.return_sequences else state_shape
        if self.return_state:
            return output_shape, state_shape, state_shape
        return output_shape

    def compute_mask(
        self, _: Tensor, mask: Tensor | Sequence[Tensor | None] | None
    ) -> Tensor | list[Tensor | None] | None:
        mask = keras.tree.flatten(mask)[0] if mask is not None else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask, None, None]
        return output_mask

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("rank", None)
        return config
