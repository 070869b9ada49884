"""Translate with a kerasrnn sequence-to-sequence export, using onnxruntime and NumPy only.

    python examples/translate_onnx.py EXPORT_DIR "I'm cold." ["Another sentence." ...]
    python examples/translate_onnx.py EXPORT_DIR --input sentences.txt --beam 5

EXPORT_DIR is what ``kerasrnn export RUN`` writes for a sequence-to-sequence
run (``encoder/model.onnx``, ``decoder_step/model.onnx``, ``metadata.json``).
No Keras, TensorFlow or kerasrnn is imported: the vocabularies, the token ids
and the input/output names come from ``metadata.json``, and the tokenizer
below is a copy of ``kerasrnn.data.vocabulary.tokenize`` / ``detokenize``
(the rules are in docs/text.md).

The recipe (``metadata.json``'s ``decoding``):

1. tokenize each sentence, map its tokens to source ids (unknown -> unk), append
   eos, right-pad the batch with 0: int32 ``source`` (batch, source_length);
2. ``memory, memory_mask, state_0..`` = encoder(source);
3. from ``token = bos``, at most ``2 * source_length + 10`` times:
   ``logits, next_state_0.. [, alignment]`` = decoder_step(token, state_0.. [, memory, memory_mask]);
   greedy: ``token = argmax(logits)`` over every id but pad and bos; a row ends at its first eos;
4. the target tokens before eos, detokenized.

``--beam K`` runs beam search instead (GNMT's length penalty, ``--alpha``),
the rules of ``kerasrnn.decoding.beam_search``.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
import onnxruntime as ort

# --------------------------------------------------------------------------- #
# Tokenization: a copy of kerasrnn.data.vocabulary's rules (word or character tokens)
# --------------------------------------------------------------------------- #

JOINER = "\uffed"  # in front of a token glued to the previous one where English spacing puts a space
_APOSTROPHES = "'\u2019"
_ELISIONS = frozenset({"c", "d", "j", "l", "m", "n", "s", "t", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"})
_CLITIC_ENDINGS = frozenset({"s", "m", "re", "ve", "ll", "d"})
_CLOSING = frozenset(".,!?;:)]}»…%”’")
_OPENING = frozenset("([{«“‘¿¡$£")
_ALTERNATING_QUOTES = frozenset("\"'")


@functools.cache
def _piece_pattern() -> re.Pattern:
    """Words (letters, marks, digits, joined by an inner apostrophe or hyphen), whitespace, punctuation runs."""
    marks = [
        chr(code)
        for block in (range(0x300, 0x20000), range(0xE0100, 0xE01F0))
        for code in block
        if unicodedata.category(chr(code)).startswith("M")
    ]
    word_char = "[^\\W_]|[" + "".join(re.escape(m) for m in marks) + "]"
    word = f"(?:{word_char})+(?:(?:['\u2019\\-\u2010\u2011]|(?<=\\d)[.,:/](?=\\d))(?:{word_char})+)*"
    return re.compile(f"(?P<space>\\s+)|(?P<word>{word})|(?P<punct>(\\S)\\4*)")


def _split_word(word: str) -> list[str]:
    """French elisions off the front (j'ai -> j' ai), an English clitic off the end (don't -> do n't)."""
    parts = []
    while True:
        cut = min((i for i in (word.find(a) for a in _APOSTROPHES) if i > 0), default=-1)
        if cut < 0 or word[:cut] not in _ELISIONS or cut == len(word) - 1:
            break
        parts.append(word[: cut + 1])
        word = word[cut + 1 :]
    cut = max(word.rfind(a) for a in _APOSTROPHES)
    if cut > 0:
        head, ending = word[:cut], word[cut + 1 :]
        if ending in _CLITIC_ENDINGS:
            return [*parts, head, word[cut:]]
        if ending == "t" and len(head) > 1 and head.endswith("n"):
            return [*parts, head[:-1], word[cut - 1 :]]
    return [*parts, word]


def _is_clitic(token: str) -> bool:
    if len(token) >= 2 and token[0] in _APOSTROPHES:
        return token[1:] in _CLITIC_ENDINGS
    return len(token) == 3 and token[0] == "n" and token[1] in _APOSTROPHES and token[2] == "t"


def _is_elision(token: str) -> bool:
    return len(token) >= 2 and token[-1] in _APOSTROPHES and token[:-1] in _ELISIONS


class _Spacing:
    """The usual spacing in front of each token (no space before closing punctuation and clitics...)."""

    def __init__(self) -> None:
        self._open_quotes: set[str] = set()
        self._glue_next = True

    def before(self, token: str) -> str:
        glue = self._glue_next
        self._glue_next = False
        char = token[0]
        if len(set(token)) == 1 and char in _ALTERNATING_QUOTES:
            if char in self._open_quotes:
                self._open_quotes.discard(char)
                return ""
            self._open_quotes.add(char)
            self._glue_next = True
            return "" if glue else " "
        if _is_elision(token) or (len(set(token)) == 1 and char in _OPENING):
            self._glue_next = True
        if glue or _is_clitic(token) or (len(set(token)) == 1 and char in _CLOSING):
            return ""
        return " "


def tokenize(text: str, kind: str = "word") -> list[str]:
    """The tokens of ``text``: lower-cased; words, punctuation runs; unusual spacing kept on the token."""
    text = text.strip().lower()
    if kind == "char":
        return list(text)
    pieces, space = [], ""
    for match in _piece_pattern().finditer(text):
        if match.lastgroup == "space":
            space = match.group()
            continue
        for part in _split_word(match.group()) if match.lastgroup == "word" else [match.group()]:
            pieces.append((space, part))
            space = ""
    spacing, tokens = _Spacing(), []
    for space, token in pieces:
        usual = spacing.before(token)
        tokens.append(token if space == usual else (space or JOINER) + token)
    return tokens


def detokenize(tokens: list[str], kind: str = "word") -> str:
    """The text of ``tokens`` (the inverse of :func:`tokenize`)."""
    if kind == "char":
        return "".join(tokens)
    spacing, out = _Spacing(), []
    for token in tokens:
        if token.startswith(JOINER) and len(token) > 1:
            bare, space = token[1:], ""
        else:
            bare = token.lstrip()
            space = token[: len(token) - len(bare)] or None
        if not bare:
            out.append(token)
            continue
        usual = spacing.before(bare)
        out.append((usual if space is None else space) + bare)
    return "".join(out)


# --------------------------------------------------------------------------- #
# The exported models
# --------------------------------------------------------------------------- #


class Translator:
    """The encoder and decoder-step ONNX models of an export, with its vocabularies."""

    def __init__(self, export_dir: str | Path, threads: int = 0) -> None:
        export_dir = Path(export_dir)
        metadata_path = export_dir / "metadata.json"
        if not metadata_path.is_file():
            raise SystemExit(f"error: {export_dir} holds no metadata.json: give the output of kerasrnn export")
        self.metadata = meta = json.loads(metadata_path.read_text(encoding="utf-8"))
        if meta.get("kind") != "encoder_decoder":
            raise SystemExit(f"error: {export_dir} is not a sequence-to-sequence export (kind {meta.get('kind')!r})")
        for side in ("source", "target"):
            if not meta.get(f"{side}_vocabulary"):
                raise SystemExit(
                    f"error: {metadata_path} has no {side}_vocabulary: export a run, or pass the vocabularies"
                )
        ids = meta["token_ids"]
        self.pad, self.unk, self.bos, self.eos = ids["pad"], ids["unk"], ids["bos"], ids["eos"]
        self.never_emitted = meta["decoding"].get("never_emitted", [self.pad, self.bos])
        source, target = meta["source_vocabulary"], meta["target_vocabulary"]
        self.source_kind, self.target_kind = source["tokens"], target["tokens"]
        self.source_ids = {token: index for index, token in enumerate(source["reserved"] + source["items"])}
        self.target_tokens = target["reserved"] + target["items"]
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.sessions, self.inputs, self.outputs = {}, {}, {}
        for part in ("encoder", "decoder_step"):
            path = export_dir / part / "model.onnx"
            if not path.is_file():
                raise SystemExit(f"error: {path} is missing: export with --format onnx or all")
            self.sessions[part] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self.inputs[part] = [spec["name"] for spec in meta[part]["inputs"]]
            self.outputs[part] = [spec["name"] for spec in meta[part]["outputs"]]
        self.max_length = meta["decoding"]["max_length"]
        self.state_count = len(self.outputs["encoder"]) - 2  # memory, memory_mask, then the states

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """int32 ``(batch, source_length)``: source ids, eos, right-padded with pad."""
        rows = [
            [self.source_ids.get(t, self.unk) for t in tokenize(text, self.source_kind)] + [self.eos] for text in texts
        ]
        source = np.full((len(rows), max(map(len, rows))), self.pad, dtype=np.int32)
        for index, row in enumerate(rows):
            source[index, : len(row)] = row
        return source

    def text(self, ids: list[int]) -> str:
        """Target ids (up to eos) as text."""
        tokens = []
        for token_id in ids:
            if token_id == self.eos:
                break
            if token_id not in (self.pad, self.bos):
                tokens.append(self.target_tokens[token_id])
        return detokenize(tokens, self.target_kind)

    def steps(self, source: np.ndarray) -> int:
        return self.max_length["factor"] * source.shape[1] + self.max_length["extra"]

    def _encode(self, source: np.ndarray) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """The decoder's initial states, and what every step also reads (memory, memory_mask) if it does."""
        outputs = dict(
            zip(self.outputs["encoder"], self.sessions["encoder"].run(self.outputs["encoder"], {"source": source}))
        )
        states = [outputs[f"state_{i}"] for i in range(self.state_count)]
        memory = {name: outputs[name] for name in ("memory", "memory_mask") if name in self.inputs["decoder_step"]}
        return states, memory

    def _step(self, token: np.ndarray, states: list[np.ndarray], memory: dict) -> tuple[np.ndarray, list[np.ndarray]]:
        feed = {"token": token, **{f"state_{i}": state for i, state in enumerate(states)}, **memory}
        logits, *rest = self.sessions["decoder_step"].run(self.outputs["decoder_step"], feed)
        return logits, rest[: self.state_count]

    def greedy(self, source: np.ndarray) -> np.ndarray:
        """Greedy ids ``(batch, L)``: no bos, eos kept, 0 after it, cut to the longest row."""
        states, memory = self._encode(source)
        batch = source.shape[0]
        token = np.full(batch, self.bos, dtype=np.int32)
        chosen = np.zeros((batch, self.steps(source)), dtype=np.int32)
        finished = np.zeros(batch, dtype=bool)
        for t in range(chosen.shape[1]):
            logits, states = self._step(token, states, memory)
            logits[:, self.never_emitted] = -np.inf
            token = np.where(finished, self.pad, logits.argmax(axis=-1)).astype(np.int32)
            chosen[:, t] = token
            finished |= token == self.eos
            if finished.all():
                break
        return chosen[:, : max(int((chosen != self.pad).sum(axis=1).max()), 1)]

    def beam(self, source: np.ndarray, beam_size: int = 5, alpha: float = 0.6) -> np.ndarray:
        """Beam search, every source's ``beam_size`` hypotheses as consecutive rows; ids as :meth:`greedy`'s.

        A hypothesis' score is its log-probability over ``((5 + length) / 6) ** alpha``; one that emitted
        eos is kept, finished, and competes with the longer ones until every beam is finished.
        """
        batch, k = source.shape[0], beam_size
        states, memory = self._encode(source)
        states = [np.repeat(state, k, axis=0) for state in states]
        memory = {name: np.repeat(value, k, axis=0) for name, value in memory.items()}
        log_prob = np.full((batch, k), -np.inf)
        log_prob[:, 0] = 0.0
        lengths = np.zeros((batch, k), dtype=np.int64)
        finished = np.zeros((batch, k), dtype=bool)
        history = np.zeros((batch, k, 0), dtype=np.int32)
        tokens = np.full(batch * k, self.bos, dtype=np.int32)
        sources = np.arange(batch)[:, None]

        def penalty(n):
            return ((5.0 + n) / 6.0) ** alpha

        for _ in range(self.steps(source)):
            logits, states = self._step(tokens, states, memory)
            logits = logits.astype(np.float64)
            shifted = logits - logits.max(axis=-1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            log_probs[:, self.never_emitted] = -np.inf
            log_probs = log_probs.reshape(batch, k, -1)
            vocab = log_probs.shape[-1]
            log_probs = np.where(finished[..., None], -np.inf, log_probs)
            log_probs[..., self.pad] = np.where(finished, 0.0, log_probs[..., self.pad])
            total = log_prob[..., None] + log_probs
            new_lengths = lengths + ~finished
            score = (total / penalty(new_lengths)[..., None]).reshape(batch, k * vocab)
            part = np.argpartition(-score, k - 1, axis=1)[:, :k]
            best = np.take_along_axis(part, np.lexsort((part, -np.take_along_axis(score, part, 1)), axis=1), 1)
            parents, words = best // vocab, (best % vocab).astype(np.int32)
            log_prob = np.take_along_axis(total.reshape(batch, k * vocab), best, axis=1)
            lengths = new_lengths[sources, parents]
            was_finished = finished[sources, parents]
            words = np.where(was_finished, self.pad, words)
            finished = was_finished | (words == self.eos)
            history = np.concatenate([history[sources, parents], words[..., None]], axis=2)
            order = (sources * k + parents).reshape(-1)
            states = [state[order] for state in states]
            tokens = words.reshape(-1)
            if finished.all():
                break
        best = (log_prob / penalty(np.maximum(lengths, 1))).argmax(axis=1)
        chosen = history[np.arange(batch), best]
        return chosen[:, : max(int((chosen != self.pad).sum(axis=1).max()), 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Translate with a kerasrnn seq2seq export (onnxruntime only).")
    parser.add_argument("export_dir", help="the directory kerasrnn export wrote")
    parser.add_argument("sentences", nargs="*", help="sentences to translate")
    parser.add_argument("--input", help="a file of sentences, one a line")
    parser.add_argument("--beam", type=int, default=1, help="beam size (1: greedy, the default)")
    parser.add_argument("--alpha", type=float, default=0.6, help="beam search length penalty (GNMT's alpha)")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: its default)")
    parser.add_argument("--json", action="store_true", help="print source, ids and translation as JSON")
    args = parser.parse_args(argv)
    texts = list(args.sentences)
    if args.input:
        texts += [line.strip() for line in Path(args.input).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts or not all(text.strip() for text in texts):
        parser.error("give one or more non-empty sentences (or --input FILE)")
    if args.beam < 1:
        parser.error("--beam must be >= 1")
    translator = Translator(args.export_dir, args.threads)
    source = translator.encode_texts(texts)
    ids = translator.greedy(source) if args.beam == 1 else translator.beam(source, args.beam, args.alpha)
    results = [
        {"source": text, "ids": [int(i) for i in row if i != translator.pad], "translation": translator.text(row)}
        for text, row in zip(texts, ids.tolist())
    ]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        for result in results:
            print(result["translation"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
