"""Export of a sequence-to-sequence model: an encoder and a one-step decoder, with verified parity.

An :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder` is exported as two
models, each as a SavedModel and an ONNX file, which a loop outside Keras
drives (greedy or beam search)::

    OUT/
      encoder/savedmodel/         source -> memory, memory_mask, state_0..state_{n-1}
      encoder/model.onnx
      decoder_step/savedmodel/    token, state_0.., [memory, memory_mask] -> logits, next_state_0.., [alignment]
      decoder_step/model.onnx
      metadata.json               vocabularies, token ids, tokenizer, the inputs/outputs in order, the recipe
      parity.json                 the figures of the four artifacts and the greedy-decoding check

Both take any batch size and any source length (int32 token ids in; the
source is right-padded with 0). They are the model's
:meth:`~kerasrnn.models.encoder_decoder.EncoderDecoder.encoder_model` and
:meth:`~kerasrnn.models.encoder_decoder.EncoderDecoder.step_model` (the
same layers, so the same weights), traced with named inputs and outputs.
The ``memory`` and ``memory_mask`` step inputs and the ``alignment`` output
exist only with attention.

The route, the destination rules (staging, lock, ``overwrite``) and the
parity tolerance are :mod:`kerasrnn.export.api`'s: this module provides the
TensorFlow side (:func:`export_into`, called by
:func:`kerasrnn.export.tf_export.export_one` for such a model) and, on
JAX/torch, the trained backend's outputs (:func:`save_trained_outputs`).

The check, on a grid of two batch sizes and two source lengths (valid token
ids: random words, ``EOS``, right padding of random lengths):

* every output of the encoder artifacts against the Keras encoder;
* every output of the step artifacts, two steps from the encoder's states
  (``BOS`` first, then random words), against the Keras step;
* greedy decoding with the exported pair (NumPy argmax loop over
  onnxruntime, and over the reloaded SavedModels) gives the very tokens of
  :func:`kerasrnn.decoding.greedy_decode` with the Keras model, at the
  recipe's ``max_length = 2 * source_length + 10``.

On JAX/torch the artifacts are also compared with the model run as trained
(``max_abs_error_vs_trained_backend``, and its greedy tokens).

Tolerance: :data:`TOLERANCE` (1e-4) unless given, not the 1e-5 of a
sequence model's export. A trained attention decoder is ill-conditioned in
float32: its scores are dot products with keys of large norm, so the last-bit
differences between onnxruntime's and TensorFlow's GRU/MatMul kernels in the
query (about 1e-6) come out of the softmax as alignment differences of about
1e-5 (measured: a GRU + Luong model trained 6 epochs on fra-eng, decoder
step ONNX 1.5e-5 on the alignment and 5.5e-6 on the logits, the SavedModel
0, the encoder 6e-7; its greedy tokens identical). The greedy-decoding check
is what guarantees the same translations.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasrnn.export import parity as parity_lib
from kerasrnn.export.errors import ExportError, ParityError
from kerasrnn.storage import atomic

logger = logging.getLogger(__name__)

ENCODER_DIR = "encoder"
DECODER_STEP_DIR = "decoder_step"
#: The two exported models, in the order they run.
PARTS = (ENCODER_DIR, DECODER_STEP_DIR)
#: Reserved token ids (kerasrnn.data.vocabulary's; repeated here so that this module imports no Keras).
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
#: Ids a decoder never emits (kerasrnn.decoding's rule: a 0 inside a row would read as its end).
NEVER_EMITTED = [PAD_ID, BOS_ID]
#: The recipe's longest translation: ``MAX_LENGTH_FACTOR * source_length + MAX_LENGTH_EXTRA`` tokens.
MAX_LENGTH_FACTOR, MAX_LENGTH_EXTRA = 2, 10
#: Default parity tolerance of a sequence-to-sequence export (module docstring: why not 1e-5).
TOLERANCE = 1e-4
#: Source lengths of the parity grid when the training lengths are unknown.
DEFAULT_SOURCE_LENGTHS = (9, 14)
TASK = "seq2seq"


def max_length(source_length: int) -> int:
    """The recipe's longest translation for sources of ``source_length`` ids (``EOS`` included)."""
    return MAX_LENGTH_FACTOR * int(source_length) + MAX_LENGTH_EXTRA


def is_encoder_decoder(model: Any) -> bool:
    """Whether ``model`` is an :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder`."""
    if model is None:
        return False
    from kerasrnn.models.encoder_decoder import EncoderDecoder

    return isinstance(model, EncoderDecoder)


def check_request(path: str | os.PathLike, formats: Sequence[str], streaming: bool) -> None:
    """What a sequence-to-sequence export cannot be: one ``.onnx`` file, or a streaming model.

    Raises:
        ExportError: a path ending in ``.onnx``, or ``streaming``.
    """
    from kerasrnn.export.job import is_single_file

    if is_single_file(path):
        raise ExportError(
            f"the export {path} ends in .onnx, but a sequence-to-sequence model is exported as two models "
            f"({ENCODER_DIR}/ and {DECODER_STEP_DIR}/): give a directory"
        )
    if streaming:
        raise ExportError(
            "a sequence-to-sequence model has no streaming form: its decoder step is exported already "
            f"({DECODER_STEP_DIR}/); leave out --streaming"
        )


def _vocabulary_config(value: Any, name: str) -> dict[str, Any] | None:
    """A vocabulary (or its ``to_config()``) as a checked config; ExportError otherwise."""
    if value is None:
        return None
    from kerasrnn.data.vocabulary import Vocabulary
    from kerasrnn.errors import DataError

    if isinstance(value, Vocabulary):
        return value.to_config()
    try:
        return Vocabulary.from_config(value).to_config()
    except DataError as error:
        raise ExportError(f"{name}: {error}") from None


# --------------------------------------------------------------------------- #
# Entry points (any backend)
# --------------------------------------------------------------------------- #


def export_encoder_decoder(
    model: Any,
    path: str | os.PathLike,
    format: str = "all",
    *,
    source_vocabulary: Any = None,
    target_vocabulary: Any = None,
    metadata: Mapping[str, Any] | None = None,
    opset: int | None = None,
    overwrite: bool = False,
    tolerance: float | None = None,
    batch_sizes: Iterable[int] | None = None,
    lengths: Iterable[int] | None = None,
    max_seen_length: int | None = None,
    seed: int = 0,
    check_trained_backend: bool = True,
    verbose: bool = True,
) -> dict[str, Any]:
    """Exports an encoder-decoder as ``path/encoder`` and ``path/decoder_step`` (SavedModel and/or ONNX).

    Args:
        model: A built :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder`.
        path: The output directory (not a ``.onnx`` file: there are two models).
        format: ``"savedmodel"``, ``"onnx"`` or ``"all"``.
        source_vocabulary, target_vocabulary: :class:`~kerasrnn.data.vocabulary.Vocabulary`
            values (or their ``to_config()``), stored in ``metadata.json`` for
            a translator that reads raw text (``examples/translate_onnx.py``).
        metadata: More JSON-able metadata (run information...).
        max_seen_length: Longest training source (ids, ``EOS`` included), so
            that the parity grid holds a longer one.
        tolerance: Largest accepted absolute error of any output (default
            :data:`TOLERANCE`, 1e-4: see the module docstring).
        opset, overwrite, batch_sizes, lengths, seed, check_trained_backend,
        verbose: as :func:`kerasrnn.export.export_model`.

    Returns:
        The parity report (also ``path/parity.json``).

    Raises:
        ExportError: not an EncoderDecoder, a ``.onnx`` path, a bad
            vocabulary, or any failure of :func:`kerasrnn.export.export_model`
            (nothing is left at ``path`` then).

    Example::

        report = export_encoder_decoder(model, "fra-eng-export", source_vocabulary=source, target_vocabulary=target)
    """
    from kerasrnn.export.api import export_models
    from kerasrnn.export.job import DEFAULT_BATCH_SIZES, resolve_formats

    if not is_encoder_decoder(model):
        raise ExportError(
            f"export_encoder_decoder needs a sequence-to-sequence model (kerasrnn EncoderDecoder); got "
            f"{type(model).__name__} {getattr(model, 'name', '')!r}: export it with export_model"
        )
    formats = resolve_formats(format)
    check_request(path, formats, False)
    extra = dict(metadata or {})
    for key, value in (("source_vocabulary", source_vocabulary), ("target_vocabulary", target_vocabulary)):
        config = _vocabulary_config(value if value is not None else extra.get(key), key)
        if config is not None:
            extra[key] = config
    extra.setdefault("task", TASK)
    job = {"model": model, "path": path, "metadata": extra, "max_seen_length": max_seen_length}
    return export_models(
        [job],
        format=formats[0] if len(formats) == 1 else "all",
        opset=opset,
        overwrite=overwrite,
        tolerance=TOLERANCE if tolerance is None else tolerance,
        batch_sizes=DEFAULT_BATCH_SIZES if batch_sizes is None else batch_sizes,
        lengths=lengths,
        seed=seed,
        check_trained_backend=check_trained_backend,
        verbose=verbose,
    )[0]


def run_metadata(record: Mapping[str, Any]) -> tuple[dict[str, Any], int | None] | None:
    """``(metadata, longest training source)`` of a sequence-to-sequence run's ``config.json``, else None.

    A run is one when its data's task is ``seq2seq`` or its data info holds
    the two vocabularies (read tolerantly: ``data.info``, ``data``, or flat).

    Raises:
        ExportError: a seq2seq run without readable vocabularies.
    """

    def find(*paths: str) -> Any:
        for dotted in paths:
            value: Any = record
            for key in dotted.split("."):
                value = value.get(key) if isinstance(value, Mapping) else None
            if value not in (None, "", []):
                return value
        return None

    task = find("data.task", "config.task", "task")
    source = find(
        "data.info.source_vocabulary", "data.source_vocabulary", "info.source_vocabulary", "source_vocabulary"
    )
    target = find(
        "data.info.target_vocabulary", "data.target_vocabulary", "info.target_vocabulary", "target_vocabulary"
    )
    if task != TASK and source is None and target is None:
        return None
    if source is None or target is None:
        raise ExportError(
            "corrupt sequence-to-sequence run: its config.json lacks the "
            + " and ".join(n for n, v in (("source", source), ("target", target)) if v is None)
            + " vocabulary (data.info.source_vocabulary / target_vocabulary)"
        )
    metadata = {
        "task": TASK,
        "source_vocabulary": _vocabulary_config(source, "the run's source vocabulary"),
        "target_vocabulary": _vocabulary_config(target, "the run's target vocabulary"),
    }
    shape = find("data.input_shape", "input_shape")
    longest = shape[0] if isinstance(shape, list) and shape and isinstance(shape[0], int) else None
    return metadata, longest


# --------------------------------------------------------------------------- #
# The two models' inputs and outputs
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class Part:
    """One exported model: its Keras model and its named inputs and outputs, in order."""

    name: str
    model: Any
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]

    @property
    def input_names(self) -> list[str]:
        return [spec["name"] for spec in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [spec["name"] for spec in self.outputs]


def _spec(name: str, shape: Sequence[Any], dtype: str, meaning: str) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "dtype": dtype, "meaning": meaning}


def state_meanings(model: Any) -> list[str]:
    """What every decoder state is, in :meth:`EncoderDecoder.encode`'s order."""
    count = len(model.state_sizes)
    names = {1: ["h"], 2: ["h", "c"]}.get(count) or [f"s{k}" for k in range(count)]
    meanings = [f"decoder layer {layer}, state {name}" for layer in range(model.num_layers) for name in names]
    if model.attention != "none":
        meanings += ["attentional vector a_{t-1} (input feeding)", "alignment alpha_{t-1} over the source"]
    return meanings


def parts(model: Any) -> list[Part]:
    """The encoder and decoder-step models of ``model``, with named inputs and outputs.

    Raises:
        ExportError: their inputs/outputs are not what the recipe expects.
    """
    encoder, step = model.encoder_model(), model.step_model()
    meanings = state_meanings(model)
    count = len(encoder.outputs) - 2
    attention = model.attention != "none"
    if count != len(meanings) or len(step.inputs) != 1 + count + 2 * attention:
        raise ExportError(
            f"{model.name}: the encoder gives {count} decoder states and the step takes {len(step.inputs)} inputs; "
            f"expected {len(meanings)} states and {1 + len(meanings) + 2 * attention} inputs"
        )
    memory_width = int(encoder.outputs[0].shape[-1])
    vocabulary = model.target_vocab_size

    def state_shape(index: int) -> list[Any]:
        if attention and index == count - 1:
            return ["batch", "source_length"]
        return ["batch", int(encoder.outputs[2 + index].shape[-1])]

    states = [_spec(f"state_{i}", state_shape(i), "float32", meanings[i]) for i in range(count)]
    memory = [
        _spec("memory", ["batch", "source_length", memory_width], "float32", "the encoder's outputs"),
        _spec("memory_mask", ["batch", "source_length"], "float32", "1 on a source token, 0 on padding"),
    ]
    encoder_part = Part(
        ENCODER_DIR,
        encoder,
        [_spec("source", ["batch", "source_length"], "int32", "source ids, EOS last, right-padded with 0")],
        [*memory, *states],
    )
    step_inputs = [_spec("token", ["batch"], "int32", "the previous target id (BOS first)"), *states]
    step_outputs = [
        _spec("logits", ["batch", vocabulary], "float32", "unnormalized log-probabilities of the next id"),
        *[{**spec, "name": f"next_{spec['name']}", "meaning": f"new {spec['meaning']}"} for spec in states],
    ]
    if attention:
        step_inputs += memory
        step_outputs.append(
            _spec("alignment", ["batch", "source_length"], "float32", "attention weights of this step over the source")
        )
    return [encoder_part, Part(DECODER_STEP_DIR, step, step_inputs, step_outputs)]


def run_keras(model: Any, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """A functional Keras model on NumPy inputs (eagerly), its outputs as NumPy arrays."""
    import keras

    outputs = model(arrays[0] if len(arrays) == 1 else list(arrays), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [np.asarray(keras.ops.convert_to_numpy(value)) for value in outputs]


# --------------------------------------------------------------------------- #
# Parity cases
# --------------------------------------------------------------------------- #


def make_sources(batch: int, length: int, vocabulary: int, rng: np.random.Generator) -> np.ndarray:
    """int32 ``(batch, length)``: random word ids, ``EOS``, then 0; row 0 fills the length, the others random."""
    low = 4 if vocabulary > 4 else UNK_ID
    source = np.zeros((batch, length), dtype=np.int32)
    valid = rng.integers(1, length + 1, size=batch)
    valid[0] = length
    for row, n in enumerate(valid):
        source[row, : n - 1] = rng.integers(low, max(vocabulary, low + 1), size=n - 1)
        source[row, n - 1] = EOS_ID
    return source


def source_lengths(job: Any) -> list[tuple[int, bool]]:
    """``[(length, seen_in_training), ...]`` of the parity grid (one longer than any training source)."""
    if job.lengths or job.max_seen_length:
        return parity_lib.parity_lengths({}, job.lengths, job.max_seen_length)
    return [(n, False) for n in DEFAULT_SOURCE_LENGTHS]


def make_cases(model: Any, encoder: Part, step: Part, job: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The parity cases and this backend's outputs on them.

    A case: ``{"batch", "length", "seen_in_training", "calls": {part: [inputs, ...]}}``;
    the encoder once on the source, the step twice (``BOS`` from the
    encoder's states, then random words from the first step's). Its outputs:
    ``{part: [outputs, ...]}``.
    """
    rng = np.random.default_rng(job.seed)
    count = len(encoder.outputs) - 2
    takes_memory = len(step.inputs) > 1 + count
    cases, outputs = [], []
    for length, seen in source_lengths(job):
        for batch in job.batch_sizes:
            source = make_sources(batch, length, model.source_vocab_size, rng)
            encoded = run_keras(encoder.model, [source])
            memory = encoded[:2] if takes_memory else []
            first = [np.full(batch, BOS_ID, np.int32), *encoded[2:], *memory]
            after_first = run_keras(step.model, first)
            words = rng.integers(4 if model.target_vocab_size > 4 else UNK_ID, model.target_vocab_size, size=batch)
            second = [words.astype(np.int32), *after_first[1 : 1 + count], *memory]
            after_second = run_keras(step.model, second)
            cases.append(
                {
                    "batch": int(batch),
                    "length": int(length),
                    "seen_in_training": bool(seen),
                    "calls": {ENCODER_DIR: [[source]], DECODER_STEP_DIR: [first, second]},
                }
            )
            outputs.append({ENCODER_DIR: [encoded], DECODER_STEP_DIR: [after_first, after_second]})
    return cases, outputs


def greedy_cases(cases: Sequence[dict[str, Any]]) -> list[int]:
    """The cases whose sources the greedy-decoding check translates: those of the largest batch."""
    largest = max(case["batch"] for case in cases)
    return [index for index, case in enumerate(cases) if case["batch"] == largest]


def keras_greedy(model: Any, source: np.ndarray) -> np.ndarray:
    """:func:`kerasrnn.decoding.greedy_decode`'s tokens at the recipe's ``max_length``."""
    from kerasrnn.decoding import greedy_decode

    return np.asarray(greedy_decode(model, source, max_length=max_length(source.shape[1])).tokens, dtype=np.int32)


def save_trained_outputs(model: Any, job: Any, path: str | os.PathLike) -> None:
    """The cases and the outputs (and greedy tokens) of ``model`` on this backend, for the worker."""
    encoder, step = parts(model)
    cases, outputs = make_cases(model, encoder, step, job)
    greedy = {index: keras_greedy(model, cases[index]["calls"][ENCODER_DIR][0][0]) for index in greedy_cases(cases)}
    save_cases(path, cases, outputs, greedy)


def save_cases(
    path: str | os.PathLike,
    cases: Sequence[dict[str, Any]],
    outputs: Sequence[dict[str, Any]],
    greedy: Mapping[int, np.ndarray],
) -> None:
    """The cases, their outputs and greedy tokens in one ``.npz`` (:func:`load_cases` reads it)."""
    arrays: dict[str, np.ndarray] = {}
    for index, case in enumerate(cases):
        arrays[f"c{index}/meta"] = np.array([case["batch"], case["length"], int(case["seen_in_training"])])
        for part, calls in case["calls"].items():
            for call, inputs in enumerate(calls):
                for position, value in enumerate(inputs):
                    arrays[f"c{index}/{part}/{call}/in/{position}"] = value
                for position, value in enumerate(outputs[index][part][call]):
                    arrays[f"c{index}/{part}/{call}/out/{position}"] = value
        if index in greedy:
            arrays[f"c{index}/greedy"] = greedy[index]
    np.savez(path, **arrays)


def load_cases(path: str | os.PathLike) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, np.ndarray]]:
    """``(cases, outputs, greedy tokens)`` of :func:`save_cases`'s file."""

    def listed(data: Any, prefix: str) -> list[np.ndarray]:
        values = []
        while f"{prefix}/{len(values)}" in data.files:
            values.append(data[f"{prefix}/{len(values)}"])
        return values

    cases, outputs, greedy = [], [], {}
    with np.load(path) as data:
        index = 0
        while f"c{index}/meta" in data.files:
            batch, length, seen = (int(v) for v in data[f"c{index}/meta"])
            calls, results = {}, {}
            for part in PARTS:
                calls[part] = []
                results[part] = []
                while f"c{index}/{part}/{len(calls[part])}/in/0" in data.files:
                    call = len(calls[part])
                    calls[part].append(listed(data, f"c{index}/{part}/{call}/in"))
                    results[part].append(listed(data, f"c{index}/{part}/{call}/out"))
            cases.append({"batch": batch, "length": length, "seen_in_training": bool(seen), "calls": calls})
            outputs.append(results)
            if f"c{index}/greedy" in data.files:
                greedy[index] = data[f"c{index}/greedy"]
            index += 1
    return cases, outputs, greedy


# --------------------------------------------------------------------------- #
# Greedy decoding with the artifacts (NumPy)
# --------------------------------------------------------------------------- #


def greedy_with_artifacts(encode: Any, step: Any, source: np.ndarray, steps: int, takes_memory: bool) -> np.ndarray:
    """Greedy decoding with the exported pair: ``encode(source)`` and ``step(token, *states[, memory, mask])``
    return their outputs in the metadata's order. Tokens as :class:`~kerasrnn.decoding.Decoded`'s
    (no ``BOS``, ``EOS`` kept, 0 after it, cut to the longest row)."""
    memory, memory_mask, *states = encode(source)
    extra = [memory, memory_mask] if takes_memory else []
    batch = source.shape[0]
    token = np.full(batch, BOS_ID, dtype=np.int32)
    chosen = np.zeros((batch, steps), dtype=np.int32)
    finished = np.zeros(batch, dtype=bool)
    for t in range(steps):
        logits, *rest = step(token, *states, *extra)
        states = rest[: len(states)]
        logits = np.array(logits)
        logits[:, NEVER_EMITTED] = -np.inf
        token = np.where(finished, PAD_ID, np.argmax(logits, axis=-1)).astype(np.int32)
        chosen[:, t] = token
        finished |= token == EOS_ID
        if finished.all():
            break
    longest = max(int((chosen != PAD_ID).sum(axis=1).max(initial=0)), 1)
    return chosen[:, :longest]


def same_tokens(expected: np.ndarray, got: np.ndarray) -> bool:
    """Equal token arrays, up to trailing padding columns."""
    width = max(expected.shape[1], got.shape[1])

    def padded(array: np.ndarray) -> np.ndarray:
        return np.pad(np.asarray(array), ((0, 0), (0, width - array.shape[1])))

    return expected.shape[0] == got.shape[0] and np.array_equal(padded(expected), padded(got))


# --------------------------------------------------------------------------- #
# The TensorFlow side
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class Seq2SeqExport:
    """What :func:`export_into` gives :func:`kerasrnn.export.tf_export.export_one`."""

    job: Any
    metadata: dict[str, Any]
    parity: Any  # kerasrnn.export.checks.ParityReport
    artifacts: dict[str, str]
    onnx_proto: Any = None  # (a one-file export is refused)


def _figures(
    run: Any,
    part: str,
    cases: Sequence[dict[str, Any]],
    references: Sequence[dict[str, Any]],
    originals: Sequence[dict[str, Any]] | None,
) -> dict[str, Any]:
    """Every output of every call of ``part`` on every case against the references (and the trained backend)."""
    rows, worst, worst_original = [], 0.0, 0.0
    for index, case in enumerate(cases):
        error = original_error = 0.0
        for call, inputs in enumerate(case["calls"][part]):
            got = run(*inputs)
            expected = references[index][part][call]
            error = max(error, *(parity_lib.max_abs_error(e, g) for e, g in zip(expected, got)))
            if originals is not None:
                trained = originals[index][part][call]
                original_error = max(original_error, *(parity_lib.max_abs_error(e, g) for e, g in zip(trained, got)))
        row = {
            "batch": case["batch"],
            "length": case["length"],
            "seen_in_training": case["seen_in_training"],
            "max_abs_error": error,
        }
        if originals is not None:
            row["max_abs_error_vs_trained_backend"] = original_error
            worst_original = max(worst_original, original_error)
        worst = max(worst, error)
        rows.append(row)
    figures = {"max_abs_error": worst, "cases": rows}
    if originals is not None:
        figures["max_abs_error_vs_trained_backend"] = worst_original
    return figures


def _name_onnx_axes(proto: Any, specs: Sequence[dict[str, Any]]) -> None:
    """The ONNX graph's free input/output axes named as the metadata names them (``batch``, ``source_length``)."""
    by_name = {spec["name"]: spec["shape"] for spec in specs}
    for value in [*proto.graph.input, *proto.graph.output]:
        shape = by_name.get(value.name)
        if shape is None or not value.type.tensor_type.HasField("shape"):
            continue
        for dim, wanted in zip(value.type.tensor_type.shape.dim, shape):
            if isinstance(wanted, str):
                dim.dim_param = wanted


def _captured_constants_as_initializers(proto: Any, function: Any, declared: Sequence[str]) -> list[str]:
    """Turns the graph inputs tf2onnx made of constants the traced function captured into initializers.

    A tensor made without a symbolic input while a functional model was
    built (``ops.zeros((1, units))``) is stored in the model as a concrete
    value; traced, it is a captured constant, which tf2onnx turns into a
    graph input that nothing feeds. Returns the names so fixed.

    Raises:
        ExportError: an undeclared input that is no captured constant.
    """
    from onnx import numpy_helper

    concrete = function.get_concrete_function()
    captured = {
        internal.name: external
        for external, internal in zip(concrete.captured_inputs, concrete.graph.internal_captures)
        if external.dtype.name != "resource"
    }
    fixed = []
    for value in list(proto.graph.input):
        if value.name in declared:
            continue
        if value.name not in captured:
            raise ExportError(f"the ONNX graph has an input {value.name!r} that is not one of {list(declared)}")
        proto.graph.initializer.append(numpy_helper.from_array(np.asarray(captured[value.name]), value.name))
        proto.graph.input.remove(value)
        fixed.append(value.name)
    return fixed


def _signature(part: Part) -> list[Any]:
    from kerasrnn.export.writers import tensorflow

    tf = tensorflow()
    return [
        tf.TensorSpec(
            [None if isinstance(d, str) else d for d in spec["shape"]], tf.as_dtype(spec["dtype"]), spec["name"]
        )
        for spec in part.inputs
    ]


def _function(part: Part) -> Any:
    """``(*inputs) -> {output name: value}``, traced for the part's signature."""
    from kerasrnn.export import writers

    names = part.output_names

    def serve(*args):
        outputs = part.model(args[0] if len(args) == 1 else list(args), training=False)
        return dict(zip(names, outputs if isinstance(outputs, (list, tuple)) else [outputs]))

    return writers.traced(serve, _signature(part))


class _Variables:
    """The variables a traced function reads: what its SavedModel must hold (not the whole model's)."""

    def __init__(self, function: Any) -> None:
        self.variables = list(function.get_concrete_function().variables)


def _metadata(model: Any, encoder: Part, step: Part, job: Any) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    import kerasrnn
    from kerasrnn.export.metadata import EXPORT_FORMAT, FORMAT_VERSION

    extra = dict(job.metadata or {})
    takes_memory = len(step.inputs) > len(encoder.outputs) - 1
    count = len(encoder.outputs) - 2
    source_vocabulary = extra.pop("source_vocabulary", None)
    target_vocabulary = extra.pop("target_vocabulary", None)
    trained_backend = extra.pop("trained_backend", None)
    kind = (target_vocabulary or source_vocabulary or {}).get("tokens", "word")
    metadata = {
        "format": EXPORT_FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "encoder_decoder",
        "kerasrnn_version": kerasrnn.__version__,
        "keras_version": keras.__version__,
        "model_name": model.name,
        "architecture": extra.pop("architecture", None) or model.arch,
        "task": TASK,
        "class_names": None,
        "trained_backend": job.trained_backend or trained_backend,
        "model": {
            "attention": model.attention,
            "attention_score": model.attention_score,
            "units": model.units,
            "layers": model.num_layers,
            "embedding_dim": model.embedding_dim,
            "bidirectional_encoder": bool(model.bidirectional),
            "source_vocab_size": model.source_vocab_size,
            "target_vocab_size": model.target_vocab_size,
        },
        "input": {**encoder.inputs[0], "kind": "tokens", "vocabulary": model.source_vocab_size},
        "token_ids": {"pad": PAD_ID, "unk": UNK_ID, "bos": BOS_ID, "eos": EOS_ID},
        "source_vocabulary": source_vocabulary,
        "target_vocabulary": target_vocabulary,
        "tokenizer": {
            "tokens": kind,
            "rules": "kerasrnn.data.vocabulary.tokenize / detokenize (docs/text.md): lower-cased, punctuation "
            "split off, French elisions and English clitics split, Unicode letters kept",
        },
        ENCODER_DIR: {"inputs": encoder.inputs, "outputs": encoder.outputs},
        DECODER_STEP_DIR: {"inputs": step.inputs, "outputs": step.outputs},
        "decoding": {
            "source": "tokenize the text, map each token to its source_vocabulary id (unk for an unknown one), "
            "append eos; right-pad a batch with pad to its longest row: int32 (batch, source_length)",
            "start_token": BOS_ID,
            "end_token": EOS_ID,
            "max_length": {
                "rule": f"{MAX_LENGTH_FACTOR} * source_length + {MAX_LENGTH_EXTRA}",
                "factor": MAX_LENGTH_FACTOR,
                "extra": MAX_LENGTH_EXTRA,
            },
            "states": {f"next_state_{i}": f"state_{i}" for i in range(count)},
            "never_emitted": NEVER_EMITTED,
            "step_takes_memory": takes_memory,
            "loop": [
                "memory, memory_mask, state_0.. = encoder(source)",
                "token = start_token for every row",
                "repeat at most max_length times: logits, next_state_0..[, alignment] = decoder_step(token, "
                "state_0..[, memory, memory_mask]); state_i = next_state_i; token = argmax(logits) over every "
                "id but pad and bos, which are never emitted (greedy); a row ends at its first end_token and "
                "emits pad after it",
                "translation: the target_vocabulary tokens before end_token, detokenized",
            ],
            "beam_search": "optional: score = sum of log_softmax(logits) / ((5 + length) / 6) ** alpha, "
            "alpha 0.6, pad and bos never emitted (kerasrnn.decoding.beam_search; GNMT's length penalty)",
        },
        "exported_with": {"tensorflow": tf.__version__, "onnx_opset": job.opset if "onnx" in job.formats else None},
    }
    for key, value in extra.items():
        metadata.setdefault(key, value)
    from kerasrnn.export.metadata import _jsonable

    return json.loads(json.dumps(metadata, default=_jsonable))


def _check_vocabularies(model: Any, metadata: dict[str, Any]) -> None:
    for side, size in (("source", model.source_vocab_size), ("target", model.target_vocab_size)):
        vocabulary = metadata.get(f"{side}_vocabulary")
        if vocabulary is not None and vocabulary["size"] != size:
            raise ExportError(
                f"the {side} vocabulary holds {vocabulary['size']} ids but the model's {side} embedding "
                f"{size}: they are not the model's vocabularies"
            )


def export_into(directory: Path, model: Any, job: Any, level: int = logging.INFO) -> Seq2SeqExport:
    """Writes and checks ``directory/encoder``, ``directory/decoder_step`` and ``metadata.json`` (TensorFlow).

    Called by :func:`kerasrnn.export.tf_export.export_one`, which writes
    ``parity.json`` and renames the directory into place when every figure
    passed.

    Raises:
        ExportError: not an EncoderDecoder, a ``.onnx`` output or
            ``streaming``, vocabularies of other sizes, a conversion failure;
            :class:`~kerasrnn.export.ParityError` when the greedy tokens
            differ from Keras'.
    """
    from kerasrnn.export import writers
    from kerasrnn.export.checks import OnnxRunner, ParityReport, SavedModelRunner, fmt

    if not is_encoder_decoder(model):
        raise ExportError(
            f"{job.path}: the run is a sequence-to-sequence run but its model {getattr(model, 'name', '')!r} is a "
            f"{type(model).__name__}, not an EncoderDecoder"
        )
    check_request(job.path, job.formats, job.streaming)
    encoder, step = parts(model)
    metadata = _metadata(model, encoder, step, job)
    _check_vocabularies(model, metadata)
    if job.cases_path is not None:
        cases, originals, trained_greedy = load_cases(job.cases_path)
        references = [
            {
                part.name: [run_keras(part.model, inputs) for inputs in case["calls"][part.name]]
                for part in (encoder, step)
            }
            for case in cases
        ]
    else:
        cases, references = make_cases(model, encoder, step, job)
        originals, trained_greedy = None, {}
    logger.log(
        level,
        f"export {model.name} ({metadata['architecture']}, attention {model.attention}) -> {job.path}  "
        f"[{ENCODER_DIR} + {DECODER_STEP_DIR}; formats: {', '.join(job.formats)}]",
    )
    parity = ParityReport(job.tolerance, metadata["trained_backend"], cases, originals is not None, level)
    artifacts: dict[str, str] = {}
    runners: dict[str, dict[str, Any]] = {}
    for part in (encoder, step):
        (directory / part.name).mkdir()
        function = _function(part)
        part_metadata = {**metadata, "part": part.name}
        if "savedmodel" in job.formats:
            path = directory / part.name / writers.SAVEDMODEL_DIR
            writers.write_savedmodel(path, _Variables(function), function, part_metadata)
            run = SavedModelRunner(path, part.input_names, part.output_names)
            parity.record(f"{part.name}/savedmodel", _figures(run, part.name, cases, references, originals))
            artifacts[f"{part.name}/savedmodel"] = f"{part.name}/{writers.SAVEDMODEL_DIR}"
            runners.setdefault("savedmodel", {})[part.name] = run
        if "onnx" in job.formats:
            proto = writers.tf2onnx_model(function, _signature(part), job.opset, part.input_names, part.output_names)
            _captured_constants_as_initializers(proto, function, part.input_names)
            _name_onnx_axes(proto, [*part.inputs, *part.outputs])
            writers.finish_onnx(proto, part_metadata)
            path = writers.save_onnx(proto, directory / part.name / writers.ONNX_FILE)
            run = OnnxRunner(str(path), part.input_names, part.output_names)
            extra = {"opset": job.opset, "recurrent_ops": writers.recurrent_ops(proto)}
            parity.record(f"{part.name}/onnx", _figures(run, part.name, cases, references, originals), extra)
            artifacts[f"{part.name}/onnx"] = f"{part.name}/{writers.ONNX_FILE}"
            runners.setdefault("onnx", {})[part.name] = run
    greedy = _greedy_check(model, cases, runners, trained_greedy, metadata["decoding"]["step_takes_memory"])
    line = ", ".join(f"{name} {'equal' if ok else 'DIFFERENT'}" for name, ok in greedy["equal"].items())
    logger.log(
        level,
        f"  greedy decoding, {greedy['sentences']} sentences, artifacts vs Keras greedy_decode: {line}",
    )
    metadata["artifacts"] = artifacts
    atomic.write_text(directory / writers.METADATA_FILE, json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    report = parity.data
    report["greedy_decoding"] = greedy
    report["passed"] = parity.passed and all(greedy["equal"].values())
    report["metadata"] = {k: metadata.get(k) for k in ("architecture", "task", "class_names", "model_name")}
    report["artifact_paths"] = artifacts
    if parity.passed and not report["passed"]:
        different = [name for name, ok in greedy["equal"].items() if not ok]
        raise ParityError(
            f"greedy decoding with the exported {', '.join(different)} models gives other tokens than the Keras "
            f"model (every output within {fmt(job.tolerance)}); nothing written to {job.path}",
            report,
        )
    return Seq2SeqExport(job=job, metadata=metadata, parity=parity, artifacts=artifacts)


def _greedy_check(
    model: Any,
    cases: Sequence[dict[str, Any]],
    runners: Mapping[str, Mapping[str, Any]],
    trained_greedy: Mapping[int, np.ndarray],
    takes_memory: bool,
) -> dict[str, Any]:
    """Greedy tokens of every artifact pair vs :func:`kerasrnn.decoding.greedy_decode` (and the trained backend)."""
    equal = {name: True for name in runners}
    if trained_greedy:
        equal.update({f"{name} vs trained backend": True for name in runners})
    sentences, rows = 0, []
    for index in greedy_cases(cases):
        source = cases[index]["calls"][ENCODER_DIR][0][0]
        expected = keras_greedy(model, source)
        sentences += source.shape[0]
        row = {"batch": int(source.shape[0]), "length": int(source.shape[1]), "max_length": max_length(source.shape[1])}
        row["keras_lengths"] = [int(n) for n in (expected != PAD_ID).sum(axis=1)]
        for name, pair in runners.items():
            got = greedy_with_artifacts(
                pair[ENCODER_DIR], pair[DECODER_STEP_DIR], source, max_length(source.shape[1]), takes_memory
            )
            same = same_tokens(expected, got)
            row[name] = same
            equal[name] &= same
            if index in trained_greedy:
                same_trained = same_tokens(trained_greedy[index], got)
                row[f"{name} vs trained backend"] = same_trained
                equal[f"{name} vs trained backend"] &= same_trained
        rows.append(row)
    return {"sentences": sentences, "equal": equal, "cases": rows, "reference": "kerasrnn.decoding.greedy_decode"}


__all__ = [
    "DECODER_STEP_DIR",
    "ENCODER_DIR",
    "export_encoder_decoder",
    "export_into",
    "is_encoder_decoder",
    "run_metadata",
    "save_trained_outputs",
]
