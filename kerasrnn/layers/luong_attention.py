"""Luong (multiplicative) attention over an encoder's outputs, masked, returning the alignment."""

from __future__ import annotations

import keras
from keras import ops

from kerasrnn.layers.tensor_types import Shape, Tensor

SCORES = ("dot", "general", "scaled")


def attend(score_layer: keras.layers.Attention, query: Tensor, memory: Tensor, keys: Tensor, mask) -> tuple:
    """Runs Keras' attention layer on a rank-2 or rank-3 query: ``(context, weights)``.

    ``score_layer`` is a ``keras.layers.Attention`` or ``AdditiveAttention``;
    a rank-2 query ``(B, Dq)`` is one decoder step, given to Keras as ``(B, 1, Dq)``.
    """
    single_step = len(query.shape) == 2
    if single_step:
        query = ops.expand_dims(query, 1)
    masks = None if mask is None else [None, ops.cast(mask, "bool")]
    context, weights = score_layer([query, memory, keys], mask=masks, return_attention_scores=True)
    if single_step:
        context, weights = ops.squeeze(context, 1), ops.squeeze(weights, 1)
    return context, weights


@keras.saving.register_keras_serializable(package="kerasrnn")
class LuongAttention(keras.layers.Layer):
    r"""Luong et al.'s multiplicative attention, masked over padded source steps.

    Luong, Pham & Manning, "Effective Approaches to Attention-based Neural
    Machine Translation", EMNLP 2015, eq. 7-8, with query :math:`q` (the
    decoder's output :math:`h_t`) and memory :math:`m_s` (the encoder's outputs
    :math:`\bar h_s`):

    .. math::

        \mathrm{score}(q, m_s) &= \begin{cases}
            q^\top m_s & \text{dot} \\
            q^\top W_a m_s & \text{general} \\
            g\, q^\top m_s & \text{scaled}
        \end{cases} \\
        \alpha_s &= \frac{\exp \mathrm{score}(q, m_s)}{\sum_{s'} \exp \mathrm{score}(q, m_{s'})}
                   \quad \text{over the real (unmasked) steps, } \alpha_s = 0 \text{ on padding} \\
        c &= \sum_s \alpha_s m_s

    ``scaled`` is tensorflow-addons' ``LuongAttention(scale=True)``: a learned
    scalar :math:`g` (initialized to 1) times the dot score. ``dot`` and
    ``scaled`` need the query as wide as the memory.

    What is Keras' own: the score :math:`q^\top k_s` (times the scalar
    :math:`g` for ``scaled``), the masked softmax and the weighted sum are
    ``keras.layers.Attention(use_scale=score == "scaled")`` (sublayer
    ``score_layer``, its scalar ``scale`` is :math:`g`) called with keys
    :math:`k_s`. Ours: the keys :math:`k_s = W_a m_s` of ``general`` (the
    kernel of ``memory_layer``, a ``keras.layers.Dense(query_dim,
    use_bias=False)`` as in tfa), computed once per source by :meth:`memory_keys`;
    :math:`k_s = m_s` for ``dot`` and ``scaled``; rank-2 (one step) queries;
    the returned alignment.

    Args:
        score: ``"dot"``, ``"general"`` or ``"scaled"``.
        kernel_initializer: Initializer of :math:`W_a` (``general`` only).
        **kwargs: Keras layer arguments.

    Call arguments:
        query: ``(B, Dq)`` (one decoder step) or ``(B, T, Dq)``.
        memory: ``(B, S, Dv)``, the values attended over.
        keys: ``(B, S, Dk)`` from :meth:`memory_keys`; computed when ``None``.
        mask: ``(B, S)`` bool, True on real source steps.

    Returns:
        ``(context, weights)``: ``(B, Dv)`` and ``(B, S)`` for a rank-2
        query, ``(B, T, Dv)`` and ``(B, T, S)`` for a rank-3 one; the weights
        are exactly 0 on masked steps and sum to 1.

    Example::

        attention = kerasrnn.layers.LuongAttention("general")
        context, weights = attention(decoder_outputs, encoder_outputs, mask=source_mask)
    """

    def __init__(self, score: str = "general", kernel_initializer="glorot_uniform", **kwargs) -> None:
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"LuongAttention: `score` must be one of {', '.join(SCORES)}; received {score!r}.")
        self.score = score
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.score_layer = keras.layers.Attention(use_scale=score == "scaled", dtype=self.dtype_policy, name="score")
        self.memory_layer = None

    def build(self, query_shape: Shape, memory_shape: Shape, keys_shape: Shape | None = None) -> None:
        query_dim, memory_dim = query_shape[-1], memory_shape[-1]
        if self.score == "general":
            self.memory_layer = keras.layers.Dense(
                query_dim,
                use_bias=False,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name="memory_layer",
            )
            self.memory_layer.build(tuple(memory_shape))
        elif query_dim != memory_dim:
            raise ValueError(
                f"LuongAttention(score={self.score!r}) needs the query as wide as the memory; "
                f"received query width {query_dim} and memory width {memory_dim} (use score='general')."
            )
        keys = (None, memory_shape[-2], query_dim)
        self.score_layer.build([(None, None, query_dim), tuple(memory_shape), keys])
        self.built = True

    def memory_keys(self, memory: Tensor) -> Tensor:
        """The keys of ``memory``, once per source: :math:`W_a m_s` (general) or the memory itself."""
        if self.score != "general":
            return memory
        if self.memory_layer is None:
            raise ValueError(
                "LuongAttention(score='general'): memory_keys needs the query width first; build the layer "
                "with build(query_shape, memory_shape) or call it once (AttentionCell.initial_states does it)."
            )
        return self.memory_layer(memory)

    def call(self, query: Tensor, memory: Tensor, keys: Tensor | None = None, mask: Tensor | None = None):
        if keys is None:
            keys = self.memory_keys(memory)
        return attend(self.score_layer, query, memory, keys, mask)

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
            "score": self.score,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
