"""Translation with a sequence-to-sequence run: decoding, BLEU, samples and the alignment plot.

* :func:`translation_metrics`: a split's ``bleu`` and ``exact_match`` with
  greedy decoding, and ``bleu_beam<K>`` / ``exact_match_beam<K>`` with beam
  search (``--beam K``, K > 1), over the split's *unique* source sentences,
  each scored against every reference translation of it;
* :func:`translate_texts`: ``kerasrnn translate``: raw sentences in,
  translations out, with the run's own vocabularies and tokenization;
* :func:`samples_text` and :func:`attention_png`: ``samples.txt`` (20 test
  sentences: source, references, greedy and beam hypotheses) and
  ``attention.png`` (the alignment weights of one test sentence).

BLEU is sacrebleu's corpus BLEU (13a tokenization, case-insensitive, as the
vocabularies lower-case) of the detokenized hypotheses against the raw
references, multi-reference where a sentence has several translations.
Exact match: the hypothesis' tokens equal the tokens of one of the references.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.errors import ConfigError, DataError

if TYPE_CHECKING:
    import keras

#: Sentences per decoding batch (a beam multiplies it by the beam size).
DECODE_BATCH_SIZE = 256
#: Test sentences in ``samples.txt``.
SAMPLE_SENTENCES = 20


def max_output_length(source_width: int) -> int:
    """The longest translation decoded for sources of ``source_width`` tokens: 2 S + 10."""
    return 2 * int(source_width) + 10


@dataclass
class Vocabularies:
    """A run's source and target vocabularies (from its data's ``info``)."""

    source: Any
    target: Any

    @classmethod
    def of(cls, info: dict) -> Vocabularies:
        from kerasrnn.data.vocabulary import Vocabulary

        return cls(Vocabulary.from_config(info["source_vocabulary"]), Vocabulary.from_config(info["target_vocabulary"]))

    def text(self, ids: np.ndarray) -> str:
        """Target ids (up to EOS) as text."""
        return self.target.decode_text(ids)

    def source_text(self, ids: np.ndarray) -> str:
        """Source ids (up to EOS) as text."""
        return self.source.decode_text(ids)


def decode(
    model: keras.Model, source: np.ndarray, beam: int = 1, keep_alignments: bool = False
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Translations (target ids, EOS excluded) of ``source`` ``(N, S)``, by batches.

    Greedy for ``beam == 1``, else beam search with GNMT's length penalty.
    Returns the ids and, with ``keep_alignments`` (greedy only), the
    alignment weights ``(N, L, S)`` (``None`` otherwise).
    """
    from kerasrnn.data.vocabulary import EOS_ID
    from kerasrnn.decoding import beam_search, greedy_decode

    outputs: list[np.ndarray] = []
    alignments = []
    for start in range(0, len(source), DECODE_BATCH_SIZE):
        rows = source[start : start + DECODE_BATCH_SIZE]
        width = max(int(np.count_nonzero(rows, axis=1).max()), 1)
        batch = _padded_batch(rows, width)
        decode_batch = beam_search if beam > 1 else greedy_decode
        options = {"beam_size": beam} if beam > 1 else {}
        decoded = decode_batch(model, batch, max_length=max_output_length(width), **options)
        tokens = np.asarray(decoded.tokens)[: len(rows)]
        for row in tokens:
            ends = np.flatnonzero((row == EOS_ID) | (row == 0))
            outputs.append(row[: ends[0]] if len(ends) else row)
        if keep_alignments and decoded.alignments is not None:
            alignments.append(np.asarray(decoded.alignments)[: len(rows), :, :width])
    if keep_alignments and alignments:
        steps = max(a.shape[1] for a in alignments)
        width = source.shape[1]
        padded = np.zeros((len(source), steps, width), np.float32)
        row = 0
        for a in alignments:
            padded[row : row + len(a), : a.shape[1], : a.shape[2]] = a
            row += len(a)
        return outputs, padded
    return outputs, None


def _padded_batch(rows: np.ndarray, width: int) -> np.ndarray:
    """``rows`` cut to ``width`` tokens, then padded to a shape shared by many batches.

    The batch grows to the next power of two (with one-token ``EOS`` rows,
    whose translations are dropped) and the width to a multiple of 8 (with
    padding, which the encoder masks), so that a compiled step (JAX, TF) is
    traced for a few shapes rather than for every batch.
    """
    from kerasrnn.data.vocabulary import EOS_ID

    size = 1 << max(len(rows) - 1, 0).bit_length()
    padded = np.zeros((size, -(-width // 8) * 8), dtype=np.int32)
    padded[: len(rows), :width] = rows[:, :width]
    padded[len(rows) :, 0] = EOS_ID
    return padded


def unique_rows(x: np.ndarray, references: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """Index of the first row of each distinct source sentence, in order of appearance.

    Rows are the same sentence when their ids and their references are (two
    sentences that differ only in words read as ``<unk>`` stay apart).
    """
    seen: dict = {}
    for index, row in enumerate(x):
        key = (row.tobytes(), tuple(references[index]) if references is not None else None)
        seen.setdefault(key, index)
    return np.fromiter(seen.values(), dtype=np.int64, count=len(seen))


def _bleu(hypotheses: list[str], references: list[list[str]]) -> float:
    try:
        import sacrebleu
    except ImportError:
        raise ConfigError(
            "BLEU needs sacrebleu, which is not installed: pip install 'kerasrnn[text]' (or pip install sacrebleu)"
        ) from None
    most = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]
    return float(sacrebleu.corpus_bleu(hypotheses, streams, lowercase=True).score)


def score(
    hypotheses: Sequence[np.ndarray], references: Sequence[Sequence[str]], vocabularies: Vocabularies
) -> dict[str, float]:
    """``bleu`` and ``exact_match`` of hypothesis ids against raw references."""
    texts = [vocabularies.text(ids) for ids in hypotheses]
    exact = [
        any(vocabularies.target.decode(ids) == vocabularies.target.tokenize(ref) for ref in refs)
        for ids, refs in zip(hypotheses, references)
    ]
    return {"bleu": round(_bleu(texts, [list(refs) for refs in references]), 2), "exact_match": float(np.mean(exact))}


def translation_metrics(model: keras.Model, data: SequenceData, split: str, beam: int) -> dict[str, float]:
    """BLEU and exact match of ``split`` (greedy, and beam search when ``beam > 1``)."""
    x = getattr(data, f"x_{split}")
    if data.references is None or split not in data.references:
        raise DataError(f"{data.source}: the {split} split has no reference translations to compute BLEU")
    rows = unique_rows(x, data.references[split])
    references = [data.references[split][i] for i in rows]
    vocabularies = Vocabularies.of(data.info)
    metrics: dict[str, float] = {"sentences": int(len(rows))}
    greedy, _ = decode(model, x[rows])
    metrics.update(score(greedy, references, vocabularies))
    if beam > 1:
        beamed, _ = decode(model, x[rows], beam=beam)
        for key, value in score(beamed, references, vocabularies).items():
            metrics[f"{key}_beam{beam}"] = value
    return metrics


def encode_sources(texts: Sequence[str], vocabularies: Vocabularies) -> np.ndarray:
    """Raw sentences as source ids ``(N, S)`` (EOS-terminated, padded with 0), as in training."""
    rows = []
    for number, text in enumerate(texts, start=1):
        tokens = vocabularies.source.tokenize(text)
        if not tokens:
            raise DataError(f"sentence {number} is empty: nothing to translate")
        rows.append(vocabularies.source.encode(tokens, add_eos=True))
    width = max(len(row) for row in rows)
    source = np.zeros((len(rows), width), np.int32)
    for index, row in enumerate(rows):
        source[index, : len(row)] = row
    return source


def translate_texts(model: keras.Model, info: dict, texts: Sequence[str], beam: int = 1) -> list[dict[str, Any]]:
    """Translations of raw sentences: ``[{"source", "translation", "unknown_words"}, ...]``."""
    from kerasrnn.data.vocabulary import UNK_ID

    vocabularies = Vocabularies.of(info)
    source = encode_sources(texts, vocabularies)
    outputs, _ = decode(model, source, beam=beam)
    results = []
    for text, ids, row in zip(texts, outputs, source):
        unknown = int(np.count_nonzero(row == UNK_ID))
        results.append({"source": text, "translation": vocabularies.text(ids), "unknown_words": unknown})
    return results


def samples_text(model: keras.Model, data: SequenceData, beam: int, seed: int) -> tuple[str, np.ndarray, list]:
    """``samples.txt`` of 20 test sentences; also the first one's source ids and alignments (for the plot)."""
    rows = unique_rows(data.x_test, data.references["test"])
    rows = rows[np.random.default_rng(seed).permutation(len(rows))[:SAMPLE_SENTENCES]]
    vocabularies = Vocabularies.of(data.info)
    source = data.x_test[rows]
    greedy, alignments = decode(model, source, keep_alignments=True)
    beamed = decode(model, source, beam=beam)[0] if beam > 1 else None
    lines = []
    for index, row in enumerate(rows):
        lines.append(f"source:     {vocabularies.source_text(source[index])}")
        for reference in data.references["test"][row]:
            lines.append(f"reference:  {reference}")
        lines.append(f"greedy:     {vocabularies.text(greedy[index])}")
        if beamed is not None:
            lines.append(f"beam {beam}:     {vocabularies.text(beamed[index])}")
        lines.append("")
    first = (source[0], greedy[0], None if alignments is None else alignments[0])
    return "\n".join(lines), rows, first


def attention_png(source_ids: np.ndarray, output_ids: np.ndarray, weights: np.ndarray, info: dict) -> bytes:
    """A heat map of one sentence's alignment weights (rows: output tokens, columns: source tokens)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    vocabularies = Vocabularies.of(info)
    source_length = int(np.count_nonzero(source_ids))
    source_tokens = [*vocabularies.source.decode(source_ids[: source_length - 1]), "<eos>"]
    output_tokens = [*vocabularies.target.decode(output_ids), "<eos>"]
    weights = np.asarray(weights)[: len(output_tokens), :source_length]
    figure = Figure(figsize=(1.0 + 0.45 * len(source_tokens), 1.0 + 0.4 * len(output_tokens)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
    axes.set_yticks(range(len(output_tokens)), output_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("translation (greedy)")
    figure.colorbar(image, ax=axes, fraction=0.05)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def translate_run(path, texts: Sequence[str], beam: int = 1) -> list[dict[str, Any]]:
    """``kerasrnn translate``: translate raw sentences with the model of a sequence-to-sequence run.

    Raises:
        ConfigError: The run is not a sequence-to-sequence run, or ``beam`` < 1.
        DataError: A sentence is empty.
    """
    from pathlib import Path

    from kerasrnn.training.evaluation import load_run_model
    from kerasrnn.training.run_dir import RunDir

    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ConfigError(f"beam must be an integer >= 1; got {beam!r}")
    run = RunDir.open(path)
    record = run.read_record()
    data = record.get("data") or {}
    if data.get("task") != "seq2seq":
        raise ConfigError(
            f"{Path(path)} is a {data.get('task', 'unknown')} run; translate needs a sequence-to-sequence run "
            f"(kerasrnn fit --dataset fra-eng, or --data pairs.tsv --task seq2seq)"
        )
    if not texts:
        raise DataError("nothing to translate: give a sentence or --input FILE")
    model = load_run_model(run)
    return translate_texts(model, data["info"], texts, beam=beam)
