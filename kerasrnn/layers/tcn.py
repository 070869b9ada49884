r"""Temporal convolutional network, TCN (Bai, Kolter & Koltun, 2018).

Bai, Kolter & Koltun, "An Empirical Evaluation of Generic Convolutional and
Recurrent Networks for Sequence Modeling", arXiv:1803.01271 (2018): a stack of
residual blocks of dilated causal 1-D convolutions, the convolutional
alternative to a recurrent network.

Three layers, one concept each:

* :class:`CausalConv1D`: one dilated causal convolution, optionally
  weight-normalized;
* :class:`TemporalBlock`: the paper's residual block (two of them, ReLU,
  spatial dropout, a 1x1 convolution on the residual path when the widths
  differ);
* :class:`TCN`: ``num_blocks`` residual blocks with dilations 1, 2, 4, ...,
  many-to-one (the last valid step) or every step.

:func:`receptive_field` gives how many input steps one output step sees.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import initializers, ops

from kerasrnn.layers.tensor_types import Identifier, Shape, Tensor

#: ``normalization`` choices of :class:`TemporalBlock` and :class:`TCN`.
NORMALIZATIONS = ("weight", "layer", None)


def receptive_field(kernel_size: int, num_blocks: int) -> int:
    r"""Input steps that one output step of a :class:`TCN` depends on.

    Block :math:`i` (from 0) holds two causal convolutions of size :math:`k`
    and dilation :math:`2^i`; each looks :math:`(k - 1) 2^i` steps back, so
    :math:`L` blocks see

    .. math::

        R = 1 + 2 (k - 1) \sum_{i=0}^{L-1} 2^i = 1 + 2 (k - 1) (2^L - 1)

    steps: the output at step :math:`t` depends on inputs :math:`t - R + 1
    \dots t` only.
    """
    for name, value, low in (("kernel_size", kernel_size, 1), ("num_blocks", num_blocks, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"TCN: `{name}` must be an integer >= {low}, received {value!r}.")
    return 1 + 2 * (kernel_size - 1) * (2**num_blocks - 1)


def _check_normalization(normalization: Any) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"TCN: `normalization` must be one of {NORMALIZATIONS}, received {normalization!r}.")


@keras.saving.register_keras_serializable(package="kerasrnn")
class CausalConv1D(keras.layers.Layer):
    r"""A dilated causal 1-D convolution, optionally with weight normalization.

    .. math::

        y_t = b + \sum_{j=0}^{k-1} W_j \, x_{t - (k - 1 - j) d}

    with :math:`x_s = 0` for :math:`s < 0` (the input is padded on the left
    by :math:`(k - 1) d` zeros), so :math:`y_t` never reads a step after
    :math:`t`: ``keras.layers.Conv1D(padding="causal", dilation_rate=d)``.

    With ``weight_normalization=True`` (Salimans & Kingma 2016, as the TCN
    paper uses it) the kernel is a direction :math:`v` and a scale :math:`g`
    per output channel:

    .. math::

        W_{:, :, o} = g_o \, \frac{v_{:, :, o}}{\lVert v_{:, :, o} \rVert_2}

    (the norm over the kernel's positions and input channels, as
    ``torch.nn.utils.weight_norm`` on a ``Conv1d``); :math:`g` starts at
    :math:`\lVert v \rVert`, so :math:`W = v` at initialization.

    Weights: ``kernel`` ``(k, input_dim, filters)`` (= :math:`v` with weight
    normalization), ``kernel_scale`` ``(filters,)`` (= :math:`g`, with weight
    normalization only), ``bias`` ``(filters,)``.

    Args:
        filters: Output channels.
        kernel_size: :math:`k`.
        dilation_rate: :math:`d`.
        weight_normalization: Whether :math:`W = g\,v/\lVert v\rVert`.
        use_bias: Whether to add :math:`b`.
        kernel_initializer: Initializer of ``kernel``.
        bias_initializer: Initializer of ``bias``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        dilation_rate: int = 1,
        weight_normalization: bool = True,
        use_bias: bool = True,
        kernel_initializer: Identifier = "he_normal",
        bias_initializer: Identifier = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("filters", filters), ("kernel_size", kernel_size), ("dilation_rate", dilation_rate)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"CausalConv1D: `{name}` must be an integer >= 1, received {value!r}.")
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.weight_normalization = bool(weight_normalization)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape: Shape) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"CausalConv1D: the channel axis must be known, received input shape {input_shape}.")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, input_dim, self.filters), initializer=self.kernel_initializer
        )
        if self.weight_normalization:
            self.kernel_scale = self.add_weight(
                name="kernel_scale",
                shape=(self.filters,),
                initializer=lambda shape, dtype=None: ops.cast(self._kernel_norm(), dtype),
            )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def _kernel_norm(self) -> Tensor:
        return ops.sqrt(ops.sum(ops.square(self.kernel), axis=(0, 1)))

    @property
    def effective_kernel(self) -> Tensor:
        """:math:`W`: the kernel itself, or :math:`g\\,v/\\lVert v\\rVert` with weight normalization."""
        if not self.weight_normalization:
            return self.kernel
        return self.kernel * (self.kernel_scale / self._kernel_norm())

    def call(self, inputs: Tensor) -> Tensor:
        kernel = ops.cast(self.effective_kernel, self.compute_dtype)
        padded = ops.pad(inputs, [[0, 0], [(self.kernel_size - 1) * self.dilation_rate, 0], [0, 0]])
        outputs = ops.conv(padded, kernel, strides=1, padding="valid", dilation_rate=self.dilation_rate)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        return outputs

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "weight_normalization": self.weight_normalization,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package="kerasrnn")
class TemporalBlock(keras.layers.Layer):
    r"""The TCN residual block (Bai et al. 2018, figure 1b).

    .. math::

        h &= \mathrm{Dropout}(\mathrm{ReLU}(N_1(\mathrm{CausalConv}_{k, d}(x)))) \\
        F(x) &= \mathrm{Dropout}(\mathrm{ReLU}(N_2(\mathrm{CausalConv}_{k, d}(h)))) \\
        o &= \mathrm{ReLU}(P x + F(x))

    :math:`N` is the identity (the paper's weight-normalized convolutions,
    ``normalization="weight"``, or none, ``None``) or a layer normalization over
    the channels (``"layer"``, plain convolutions); the dropout is spatial
    (``SpatialDropout1D``: whole channels of a sequence, as the paper's
    ``Dropout2d``); :math:`P` is a 1x1 convolution (``projection``) when
    the input width differs from ``filters``, else the identity.

    Args:
        filters: Channels of both convolutions and of the output.
        kernel_size: :math:`k`.
        dilation_rate: :math:`d` (:math:`2^i` in block :math:`i` of a TCN).
        dropout: Spatial dropout rate after each convolution.
        normalization: ``"weight"``, ``"layer"`` or ``None``.
        kernel_initializer: Initializer of the convolutions' kernels
            (default ``"he_normal"``, see :class:`TCN`).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        dilation_rate: int = 1,
        dropout: float = 0.0,
        normalization: str | None = "weight",
        kernel_initializer: Identifier = "he_normal",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_normalization(normalization)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"TemporalBlock: `dropout` must be in [0, 1), received {dropout!r}.")
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.dropout = float(dropout)
        self.normalization = normalization
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.supports_masking = True
        common = dict(dtype=self.dtype_policy)
        self.convolutions = [
            CausalConv1D(
                filters,
                kernel_size,
                dilation_rate,
                weight_normalization=normalization == "weight",
                kernel_initializer=self.kernel_initializer,
                name=f"conv_{index}",
                **common,
            )
            for index in (1, 2)
        ]
        self.norms = (
            [keras.layers.LayerNormalization(name=f"layer_norm_{index}", **common) for index in (1, 2)]
            if normalization == "layer"
            else []
        )
        self.dropouts = [keras.layers.SpatialDropout1D(self.dropout, name=f"dropout_{i}", **common) for i in (1, 2)]
        self.projection = None

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape)
        if shape[-1] != self.filters:
            self.projection = CausalConv1D(
                self.filters,
                1,
                weight_normalization=False,
                kernel_initializer=self.kernel_initializer,
                name="projection",
                dtype=self.dtype_policy,
            )
            self.projection.build(shape)
        for index in range(2):
            self.convolutions[index].build(shape)
            shape = (*shape[:-1], self.filters)
            if self.norms:
                self.norms[index].build(shape)
            self.dropouts[index].build(shape)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        x = inputs
        for index in range(2):
            x = self.convolutions[index](x)
            if self.norms:
                x = self.norms[index](x)
            x = self.dropouts[index](ops.relu(x), training=training)
        residual = inputs if self.projection is None else self.projection(inputs)
        return ops.relu(residual + x)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "dropout": self.dropout,
            "normalization": self.normalization,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="kerasrnn")
class TCN(keras.layers.Layer):
    r"""Temporal convolutional network (Bai, Kolter & Koltun 2018).

    ``num_blocks`` :class:`TemporalBlock` residual blocks, block :math:`i`
    with dilation :math:`2^i`:

    .. math::

        z^{(0)} = x, \qquad z^{(i+1)} = \mathrm{Block}_{k, 2^i}(z^{(i)}),
        \qquad y_t = z^{(L)}_t

    Every convolution is causal, so :math:`y_t` depends on :math:`x_{t-R+1}
    \dots x_t` only, :math:`R = 1 + 2 (k - 1) (2^L - 1)`
    (:func:`receptive_field`, the ``receptive_field`` attribute); padding
    appended after a sequence never changes its earlier outputs.

    Many-to-one (``return_sequences=False``) returns :math:`y` at the last
    step, or, with a mask (right-padded sequences of different lengths, from
    ``keras.layers.Masking`` or ``Embedding(mask_zero=True)``), at each
    sequence's last unmasked step (zeros for a fully masked sequence). With
    ``return_sequences=True`` every step is returned and the mask passes on.

    Args:
        filters: Channels of every convolution (the output width).
        num_blocks: :math:`L`, residual blocks.
        kernel_size: :math:`k`.
        dropout: Spatial dropout rate after every convolution.
        normalization: ``"weight"`` (the paper's weight normalization),
            ``"layer"`` (layer normalization after each convolution) or
            ``None``.
        return_sequences: Every step (``True``) or the last valid one.
        kernel_initializer: Initializer of the convolution kernels. Default
            ``"he_normal"`` (keras-tcn's); the paper's code draws N(0, 0.01)
            (``keras.initializers.RandomNormal(stddev=0.01)``), which with
            weight normalization starts from near-zero kernels and learned
            a 9-step memory task far slower in our tests.

    Example::

        tcn = TCN(32, num_blocks=4, kernel_size=3)   # receptive field 61 steps
        y = tcn(keras.random.normal((8, 50, 3)))     # (8, 32)
    """

    def __init__(
        self,
        filters: int,
        num_blocks: int = 1,
        kernel_size: int = 3,
        dropout: float = 0.0,
        normalization: str | None = "weight",
        return_sequences: bool = False,
        kernel_initializer: Identifier = "he_normal",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.receptive_field = receptive_field(kernel_size, num_blocks)
        _check_normalization(normalization)
        self.filters = filters
        self.num_blocks = num_blocks
        self.kernel_size = kernel_size
        self.dropout = float(dropout)
        self.normalization = normalization
        self.return_sequences = bool(return_sequences)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.supports_masking = True
        self.blocks = [
            TemporalBlock(
                filters,
                kernel_size,
                2**index,
                dropout=dropout,
                normalization=normalization,
                kernel_initializer=self.kernel_initializer,
                name=f"block_{index}",
                dtype=self.dtype_policy,
            )
            for index in range(num_blocks)
        ]

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)

    def call(self, inputs: Tensor, mask: Tensor | None = None, training: bool | None = None) -> Tensor:
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        if self.return_sequences:
            return x
        if mask is None:
            return x[:, -1]
        # The last unmasked step: where the running count of valid steps
        # reaches the sequence's total (no arange, so any traced length works).
        valid = ops.cast(mask, "int32")
        counts = ops.cumsum(valid, axis=1)
        last = ops.logical_and(ops.cast(mask, "bool"), ops.equal(counts, ops.sum(valid, axis=1, keepdims=True)))
        return ops.sum(ops.where(ops.expand_dims(last, -1), x, ops.zeros_like(x)), axis=1)

    def compute_mask(self, inputs: Tensor, mask: Tensor | None = None) -> Tensor | None:
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.return_sequences:
            return (*input_shape[:-1], self.filters)
        return (input_shape[0], self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "num_blocks": self.num_blocks,
            "kernel_size": self.kernel_size,
            "dropout": self.dropout,
            "normalization": self.normalization,
            "return_sequences": self.return_sequences,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        }
