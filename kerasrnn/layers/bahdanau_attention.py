"""Bahdanau (additive) attention over an encoder's outputs, optionally weight-normalized."""

from __future__ import annotations

import math

import keras
from keras import ops

from kerasrnn.layers.luong_attention import attend
from kerasrnn.layers.tensor_types import Shape, Tensor

# Masked scores get this added before the softmax, as in keras.layers.Attention: exp underflows to exactly 0.
MASKED_SCORE_OFFSET = 1.0e9


@keras.saving.register_keras_serializable(package="kerasrnn")
class BahdanauAttention(keras.layers.Layer):
    r"""Bahdanau et al.'s additive attention, masked over padded source steps.

    Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to
    Align and Translate", ICLR 2015, appendix A.1.2, with query :math:`q` and
    memory :math:`m_s` (the encoder's outputs):

    .. math::

        k_s &= W_1 m_s \qquad \text{(keys, once per source)} \\
        \mathrm{score}(q, m_s) &= v^\top \tanh(k_s + W_2 q) \\
        \alpha_s &= \operatorname{softmax}_s \mathrm{score}(q, m_s)
                   \quad \text{over the real (unmasked) steps, } \alpha_s = 0 \text{ on padding} \\
        c &= \sum_s \alpha_s m_s

    With ``normalize=True`` the score is tensorflow-addons'
    ``BahdanauAttention(normalize=True)``: :math:`v` is weight-normalized
    (Salimans & Kingma, "Weight Normalization", NeurIPS 2016) with a learned
    scalar :math:`g` (initialized to :math:`\sqrt{1/\text{units}}`) and a bias
    :math:`b` (zeros) inside the tanh:

    .. math::

        \mathrm{score}(q, m_s) = g \frac{v^\top}{\lVert v \rVert} \tanh(k_s + W_2 q + b)

    What is Keras' own: for the plain form, the score
    :math:`\sum_j v_j \tanh(k_{s,j} + q'_j)`, the masked softmax and the
    weighted sum are ``keras.layers.AdditiveAttention(use_scale=True)``
    (sublayer ``score_layer``; its ``scale`` is :math:`v`, glorot-uniform as in
    tfa) called on the projected query :math:`q' = W_2 q`. Ours: :math:`W_1`
    and :math:`W_2`, tfa's ``memory_layer`` and ``query_layer``
    (``keras.layers.Dense(units, use_bias=False)`` sublayers);
    the normalized form (Keras has none), whose masked softmax is written here
    the way ``keras.layers.Attention`` writes it (masked scores minus 1e9, so
    their weights are exactly 0); rank-2 queries; the returned alignment.

    The query is the decoder's current output (tfa's ``AttentionWrapper``
    order, see :class:`~kerasrnn.layers.AttentionCell`); the paper uses the
    previous state :math:`s_{i-1}`.

    Args:
        units: Width of the keys and of :math:`v`.
        normalize: Weight-normalize :math:`v` (see above).
        kernel_initializer: Initializer of :math:`W_1` and :math:`W_2`.
        **kwargs: Keras layer arguments.

    Call arguments:
        query: ``(B, Dq)`` (one decoder step) or ``(B, T, Dq)``.
        memory: ``(B, S, Dv)``.
        keys: ``(B, S, units)`` from :meth:`memory_keys`; computed when ``None``.
        mask: ``(B, S)`` bool, True on real source steps.

    Returns:
        ``(context, weights)``: ``(B, Dv)`` and ``(B, S)`` for a rank-2 query,
        ``(B, T, Dv)`` and ``(B, T, S)`` for a rank-3 one; the weights are
        exactly 0 on masked steps and sum to 1.

    Example::

        attention = kerasrnn.layers.BahdanauAttention(64, normalize=True)
        keys = attention.memory_keys(encoder_outputs)
        context, weights = attention(decoder_output, encoder_outputs, keys=keys, mask=source_mask)
    """

    def __init__(self, units: int, normalize: bool = False, kernel_initializer="glorot_uniform", **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(f"BahdanauAttention: `units` must be a positive integer; received {units!r}.")
        self.units = units
        self.normalize = bool(normalize)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.score_layer = (
            None
            if self.normalize
            else keras.layers.AdditiveAttention(use_scale=True, dtype=self.dtype_policy, name="score")
        )
        dense = {"use_bias": False, "kernel_initializer": self.kernel_initializer, "dtype": self.dtype_policy}
        self.memory_layer = keras.layers.Dense(units, name="memory_layer", **dense)
        self.query_layer = keras.layers.Dense(units, name="query_layer", **dense)

    def build(self, query_shape: Shape, memory_shape: Shape, keys_shape: Shape | None = None) -> None:
        if not self.memory_layer.built:
            self.memory_layer.build(tuple(memory_shape))
        self.query_layer.build(tuple(query_shape))
        if self.normalize:
            self.v = self.add_weight(name="v", shape=(self.units,), initializer="glorot_uniform")
            self.g = self.add_weight(
                name="g", shape=(), initializer=keras.initializers.Constant(math.sqrt(1.0 / self.units))
            )
            self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        else:
            keys = (None, memory_shape[-2], self.units)
            self.score_layer.build([(None, None, self.units), tuple(memory_shape), keys])
        self.built = True

    def memory_keys(self, memory: Tensor) -> Tensor:
        """The keys :math:`W_1 m_s` of ``memory`` ``(B, S, Dv)``: ``(B, S, units)``, once per source."""
        return self.memory_layer(memory)

    def call(self, query: Tensor, memory: Tensor, keys: Tensor | None = None, mask: Tensor | None = None):
        if keys is None:
            keys = self.memory_keys(memory)
        query = self.query_layer(query)
        if not self.normalize:
            return attend(self.score_layer, query, memory, keys, mask)
        single_step = len(query.shape) == 2
        if single_step:
            query = ops.expand_dims(query, 1)
        normed_v = self.g * self.v / ops.sqrt(ops.sum(ops.square(self.v)))
        # (B, T, 1, units) + (B, 1, S, units) -> scores (B, T, S)
        scores = ops.sum(normed_v * ops.tanh(ops.expand_dims(query, 2) + ops.expand_dims(keys, 1) + self.b), -1)
        if mask is not None:
            real = ops.expand_dims(ops.cast(mask, "bool"), 1)
            offset = 65504.0 if scores.dtype == "float16" else MASKED_SCORE_OFFSET  # float16's max, as Keras
            scores = ops.where(real, scores, scores - offset)
        weights = ops.softmax(scores, axis=-1)
        context = ops.matmul(weights, memory)
        if single_step:
            context, weights = ops.squeeze(context, 1), ops.squeeze(weights, 1)
        return context, weights

    def compute_mask(self, *args, **kwargs):
        return None

    def compute_output_spec(self, query, memory, keys=None, mask=None):
        head = tuple(query.shape[:-1])
        return (
            keras.KerasTensor(head + (memory.shape[-1],), dtype=self.compute_dtype),
            keras.KerasTensor(head + (memory.shape[-2],), dtype=self.compute_dtype),
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "normalize": self.normalize,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
