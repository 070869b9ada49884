"""Character-by-character sampling from a trained language model.

Generation is stateless: for every new character the model reads the last
``window`` characters (the training ``seq_len``) again and the next character
is drawn from ``softmax(logits / temperature)`` at the last step.  The window
has a fixed length, so the model is compiled once; while fewer characters are
known than the window holds, it is filled on the left with newlines (blank
lines, which the corpus has between speeches) -- or with the prime's first
character when the vocabulary has no newline.

``on_text`` (of :func:`sample_text` and :func:`generate_from_run`) receives
each character as soon as it is drawn, so that a caller can show a long text
as it comes and keep what was shown if it is interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kerasrnn.data.text import CharVocabulary
from kerasrnn.errors import ConfigError, TrainingError

if TYPE_CHECKING:
    import keras


def _fill_char(vocabulary: CharVocabulary, prime: str) -> str:
    for candidate in ("\n", " "):
        if candidate in vocabulary.chars:
            return candidate
    return prime[0] if prime else vocabulary.chars[0]


def sample_text(
    model: keras.Model,
    vocabulary: CharVocabulary,
    length: int,
    temperature: float = 1.0,
    prime: str = "\n",
    window: int = 100,
    end: str | None = None,
    num_samples: int = 1,
    seed: int = 0,
    *,
    on_text: Callable[[int, str], None] | None = None,
) -> list[str]:
    """Generate ``num_samples`` continuations of ``prime``.

    Args:
        model: A language model: token ids ``(batch, time)`` -> logits
            ``(batch, time, vocabulary)``.
        vocabulary: The model's :class:`CharVocabulary`.
        length: Maximum number of characters to generate (after the prime).
        temperature: Softmax temperature; lower is more conservative, ``0``
            always takes the most likely character.
        prime: Text to start from (every character must be in the vocabulary).
        window: Characters of context per step.
        end: Stop a sample once its generated text ends with this string.
        num_samples: Samples drawn in parallel (one batch).
        seed: Seed of the sampling.
        on_text: Called as ``on_text(sample, text)`` with each new character
            of sample ``sample`` (0-based) as soon as it is drawn, in order
            (the returned texts are the same with or without it).

    Returns:
        The generated texts, without the prime.

    Raises:
        ConfigError: For a bad length, temperature or prime.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ConfigError(f"length must be a positive integer; got {length!r}")
    if not (isinstance(temperature, (int, float)) and temperature >= 0):
        raise ConfigError(f"temperature must be a number >= 0; got {temperature!r}")
    if num_samples < 1:
        raise ConfigError(f"num_samples must be >= 1; got {num_samples!r}")
    if end == "":
        end = None
    prime = prime if prime else "\n"
    missing = sorted({char for char in prime if char not in vocabulary.chars})
    if missing:
        raise ConfigError(
            f"the prime has character(s) {''.join(missing)!r} outside the model's "
            f"{vocabulary.size}-character vocabulary"
        )
    fill = vocabulary.encode(_fill_char(vocabulary, prime))[0]
    context = np.full((num_samples, window), fill, dtype=np.int32)
    ids = vocabulary.encode(prime)[-window:]
    context[:, window - len(ids) :] = ids

    rng = np.random.default_rng(seed)
    generated = [[] for _ in range(num_samples)]
    done = np.zeros(num_samples, dtype=bool)
    for _ in range(length):
        logits = np.asarray(model.predict_on_batch(context), dtype=np.float64)[:, -1, :]
        if not np.all(np.isfinite(logits)):
            raise TrainingError("the model produced NaN or infinite logits; it cannot generate text")
        if temperature == 0:
            next_ids = logits.argmax(axis=-1)
        else:
            scaled = logits / temperature
            scaled -= scaled.max(axis=-1, keepdims=True)
            probabilities = np.exp(scaled)
            probabilities /= probabilities.sum(axis=-1, keepdims=True)
            cumulative = probabilities.cumsum(axis=-1)
            draws = rng.random((num_samples, 1))
            next_ids = np.minimum((cumulative < draws).sum(axis=-1), vocabulary.size - 1)
        for sample, token in enumerate(next_ids):
            if not done[sample]:
                generated[sample].append(int(token))
                if on_text is not None:
                    on_text(sample, vocabulary.decode([int(token)]))
                if end and vocabulary.decode(generated[sample][-len(end) :]) == end:
                    done[sample] = True
        if done.all():
            break
        context = np.concatenate([context[:, 1:], next_ids[:, None].astype(np.int32)], axis=1)
    return [vocabulary.decode(tokens) for tokens in generated]


def generate_from_run(
    path: str | os.PathLike,
    length: int = 300,
    temperature: float = 0.8,
    prime: str = "\n",
    end: str | None = None,
    num_samples: int = 1,
    seed: int = 0,
    *,
    on_text: Callable[[int, str], None] | None = None,
) -> list[str]:
    """Sample from the language model of a run directory (``on_text``: see :func:`sample_text`)."""
    from kerasrnn.training.evaluation import load_run_model
    from kerasrnn.training.run_dir import RunDir

    run = RunDir.open(path)
    record = run.read_record()
    data = record.get("data") or {}
    if data.get("task") != "language_model":
        raise ConfigError(
            f"{Path(path)} is a {data.get('task', 'unknown')} run; generate needs a character "
            f"language model (kerasrnn fit --dataset shakespeare)"
        )
    vocabulary = CharVocabulary.from_config(data["info"]["vocabulary"])
    model = load_run_model(run)
    window = int(record["config"].get("seq_len", 100))
    return sample_text(model, vocabulary, length, temperature, prime, window, end, num_samples, seed, on_text=on_text)
