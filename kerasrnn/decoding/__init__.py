"""Decoding an :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder`: greedy, sampling, beam search.

All three run batched on every backend, with one compiled step function per
model (:mod:`kerasrnn.decoding.step_functions`: ``jax.jit``, ``tf.function``;
eager under ``torch.no_grad()`` on torch) and NumPy bookkeeping, and return a
:class:`Decoded`.

Why not ``keras_hub.samplers``: its samplers (``GreedySampler``,
``TopKSampler``, ``BeamSampler``...) drive a decoder-only language model
through a fixed-size prompt buffer and a ``next(prompt, cache, index)``
callback inside ``ops.while_loop``. An encoder-decoder fits that only by
carrying its states and memory as the "cache", which works, but
``BeamSampler`` lacks what translation needs: no length penalty (its plain sum
of log-probabilities prefers short outputs), and a beam that emitted its stop
token is extended and re-scored at every later step instead of being kept
finished; the samplers return no attention alignments. Installing keras-hub
also pulls tensorflow-text (and TensorFlow) into a JAX or torch environment.
So kerasrnn keeps its own decoders, about 200 lines, with tensorflow-addons'
``BeamSearchDecoder`` rules (the API Keras 3 users lost).
"""

from kerasrnn.decoding.beam_search import beam_search, gnmt_length_penalty
from kerasrnn.decoding.decoded import Decoded
from kerasrnn.decoding.greedy import greedy_decode
from kerasrnn.decoding.sampling import sample_decode

__all__ = ["Decoded", "beam_search", "greedy_decode", "gnmt_length_penalty", "sample_decode"]
