"""Tokens and vocabularies of word- and character-level text (NumPy only).

Reserved ids, the same for every vocabulary:

======  ==========  ============================================
id      token       meaning
======  ==========  ============================================
0       ``<pad>``   padding (``Embedding(mask_zero=True)`` masks it)
1       ``<unk>``   a token the vocabulary does not hold
2       ``<bos>``   beginning of a target sequence
3       ``<eos>``   end of a sequence
======  ==========  ============================================

Real tokens get the ids from 4 on.

Tokenization (:func:`tokenize`)
-------------------------------
``tokens="char"``: the characters of the text, lower-cased, with leading and
trailing whitespace removed; spaces inside the text are tokens too.
``detokenize`` joins them.

``tokens="word"``:

1. The text is lower-cased (``str.lower``) and leading and trailing whitespace is
   removed.  No other character is changed: accents, apostrophes (``'`` and
   ``’``) and the kind of space are kept (no Unicode normalization).
2. A *word* is a run of Unicode letters, combining marks, digits and ``_`` (any
   script), which may be joined inside by an apostrophe (``'`` ``’``) or a
   hyphen (``-`` ``‐`` ``‑``) between two such characters, and between two
   digits by ``.`` ``,`` ``:`` or ``/``: ``peut-être``, ``aujourd'hui``,
   ``3:30``, ``1,000`` are single words.
3. Apostrophes split words in two cases.  French elision: a word starting with
   ``c' d' j' l' m' n' s' t' qu' jusqu' lorsqu' puisqu' quoiqu'`` gives that
   part as a token of its own (``j'ai`` -> ``j'`` ``ai``; ``qu'a-t-il`` ->
   ``qu'`` ``a-t-il``), repeatedly.  English clitics, as in the Penn Treebank
   (and GloVe): a final ``'s 'm 're 've 'll 'd`` or ``n't`` becomes a token
   (``i'm`` -> ``i`` ``'m``; ``don't`` -> ``do`` ``n't``).  Other apostrophes
   stay inside the word (``aujourd'hui``, ``o'clock``).
4. Every other character that is not whitespace is punctuation, and a run of
   the same punctuation character is one token (``...``, ``!!``, ``?``).
5. Whitespace separates tokens and is not a token.  It is recorded only where
   it departs from the usual English spacing, which is: one space between two
   tokens, except none before closing punctuation ``. , ! ? ; : ) ] } » … % ”
   ’`` and the clitics, and none after opening punctuation ``( [ { « “ ‘ ¿ ¡ $ £``
   and after an elision; a straight quote ``"`` (or a lone ``'``) opens and
   closes in turn.  A token whose preceding whitespace departs from that rule
   carries it in front: the exact whitespace (``va !`` -> ``va`` ``" !"``;
   French narrow no-break spaces are kept: ``"\\u202f?"``), or ``￭`` (U+FFED)
   when there is none (``u.s.`` -> ``u`` ``.`` ``￭s`` ``.``).

:func:`detokenize` applies the same rule backwards, so
``detokenize(tokenize(t)) == t.strip().lower()`` for every text without the
character ``￭``.  (On the Tatoeba English-French pairs of ``--dataset fra-eng``
this holds for every sentence; tests/data/test_vocabulary.py checks it.)
Scripts written without spaces between words (Chinese, Japanese, Thai) give one
"word" per run of letters: use ``tokens="char"`` for them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from kerasrnn.errors import DataError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
#: The reserved tokens, index = id.
RESERVED = (PAD, UNK, BOS, EOS)
#: What one token is: a word (with punctuation split off) or a character.
TOKEN_KINDS = ("word", "char")
#: Written in front of a token that follows no whitespace where the usual spacing puts a space.
JOINER = "\uffed"

_APOSTROPHES = "'\u2019"
_ELISIONS = frozenset({"c", "d", "j", "l", "m", "n", "s", "t", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"})
_CLITIC_ENDINGS = frozenset({"s", "m", "re", "ve", "ll", "d"})
_CLOSING = frozenset(".,!?;:)]}»…%”’")
_OPENING = frozenset("([{«“‘¿¡$£")
_ALTERNATING_QUOTES = frozenset("\"'")


def _check_kind(tokens: str) -> str:
    if tokens not in TOKEN_KINDS:
        raise DataError(f"tokens must be 'word' or 'char'; got {tokens!r}")
    return tokens


@functools.cache
def _piece_pattern() -> re.Pattern:
    """Words, whitespace runs, runs of one punctuation character (the marks are listed on first use)."""
    ranges: list[list[int]] = []  # combining marks (categories Mn, Mc, Me), as code-point ranges
    for block in (range(0x300, 0x20000), range(0xE0100, 0xE01F0)):
        for code in block:
            if unicodedata.category(chr(code)).startswith("M"):
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1][1] = code
                else:
                    ranges.append([code, code])
    marks = "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in ranges)
    word_char = f"[\\w{marks}]"
    word = f"(?:{word_char})+(?:(?:['\u2019\\-\u2010\u2011]|(?<=\\d)[.,:/](?=\\d))(?:{word_char})+)*"
    return re.compile(f"(?P<space>\\s+)|(?P<word>{word})|(?P<punct>(\\S)\\4*)")


def _split_word(word: str) -> list[str]:
    """French elisions off the front, an English clitic off the end (module docstring, rule 3)."""
    if "'" not in word and "\u2019" not in word:
        return [word]
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
    """The usual spacing of rule 5, token by token (quotes alternate, so it keeps state)."""

    def __init__(self) -> None:
        self._open_quotes: set[str] = set()
        self._glue_next = True  # nothing before the first token

    def before(self, token: str) -> str:
        """The usual whitespace in front of ``token`` (a bare token), and advance."""
        glue = self._glue_next
        self._glue_next = False
        char = token[0]
        if char.isalnum():  # a word (the common case)
            if token[-1] in _APOSTROPHES and token[:-1] in _ELISIONS:
                self._glue_next = True
            elif len(token) == 3 and token[0] == "n" and token[1] in _APOSTROPHES and token[2] == "t":
                return ""
            return "" if glue else " "
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


def tokenize(text: str, tokens: str = "word") -> list[str]:
    """The tokens of ``text`` (rules in the module docstring).

    Args:
        text: Any Unicode text.
        tokens: ``"word"`` or ``"char"``.

    Returns:
        The tokens, in order; ``[]`` for a blank text.
    """
    _check_kind(tokens)
    text = text.strip().lower()
    if tokens == "char":
        return list(text)
    pieces: list[tuple[str, str]] = []  # (whitespace before, token)
    space = ""
    for match in _piece_pattern().finditer(text):
        if match.lastgroup == "space":
            space = match.group()
            continue
        parts = _split_word(match.group()) if match.lastgroup == "word" else [match.group()]
        for part in parts:
            pieces.append((space, part))
            space = ""
    spacing = _Spacing()
    result = []
    for space, token in pieces:
        usual = spacing.before(token)
        result.append(token if space == usual else (space or JOINER) + token)
    return result


def detokenize(tokens: Iterable[str], kind: str = "word") -> str:
    """The text of ``tokens``: the inverse of :func:`tokenize` (module docstring, rule 5).

    Args:
        tokens: Tokens as :func:`tokenize` gives them (or a model produced).
        kind: ``"word"`` or ``"char"``.
    """
    _check_kind(kind)
    if kind == "char":
        return "".join(tokens)
    spacing = _Spacing()
    out = []
    for token in tokens:
        if token.startswith(JOINER) and len(token) > 1:
            bare, space = token[1:], ""
        else:
            bare = token.lstrip()
            space = token[: len(token) - len(bare)] or None
        if not bare:  # whitespace alone: not a token tokenize gives; kept as it is
            out.append(token)
            continue
        usual = spacing.before(bare)
        out.append((usual if space is None else space) + bare)
    return "".join(out)


class Vocabulary:
    """Tokens <-> ids: the four reserved ids, then the real tokens, most frequent first.

    Args:
        tokens: The real tokens, id 4 onwards, each once (no reserved token).
        kind: What a token is: ``"word"`` or ``"char"`` (:func:`tokenize`).
    """

    def __init__(self, tokens: Sequence[str], kind: str = "word") -> None:
        self.kind = _check_kind(kind)
        tokens = list(tokens)
        for token in tokens:
            if not isinstance(token, str) or not token:
                raise DataError(f"vocabulary tokens must be non-empty strings; got {token!r}")
        reserved = sorted(set(tokens) & set(RESERVED))
        if reserved:
            raise DataError(f"vocabulary tokens must not include the reserved {', '.join(reserved)}")
        if len(set(tokens)) != len(tokens):
            repeated = sorted(token for token, count in Counter(tokens).items() if count > 1)
            raise DataError(f"vocabulary tokens must be unique; repeated: {repeated[:5]!r}")
        self._tokens = [*RESERVED, *tokens]
        self._ids = {token: index for index, token in enumerate(self._tokens)}

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_count: int = 1,
        max_size: int | None = None,
        kind: str = "word",
    ) -> Vocabulary:
        """The vocabulary of tokenized texts.

        Args:
            token_lists: The tokens of every text (e.g. the training split's).
            min_count: Keep tokens seen at least this many times.
            max_size: Keep at most this many real tokens (the four reserved
                ones come on top); ``None``: all.
            kind: ``"word"`` or ``"char"``.

        Tokens are ordered by decreasing count, ties by code points (so the
        result depends only on the counts).
        """
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise DataError(f"min_count must be an integer >= 1; got {min_count!r}")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
            raise DataError(f"max_size must be an integer >= 1 or None; got {max_size!r}")
        counts: Counter = Counter()
        for token_list in token_lists:
            counts.update(token_list)
        for token in RESERVED:
            counts.pop(token, None)
        kept = sorted((token for token, count in counts.items() if count >= min_count), key=lambda t: (-counts[t], t))
        return cls(kept[:max_size] if max_size is not None else kept, kind)

    @property
    def size(self) -> int:
        """Number of ids, reserved ones included (an embedding's input size)."""
        return len(self._tokens)

    def __len__(self) -> int:
        return self.size

    @property
    def tokens(self) -> list[str]:
        """Every token, index = id (the reserved ones first)."""
        return list(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def id(self, token: str) -> int:
        """The id of ``token`` (:data:`UNK_ID` when it is not held)."""
        return self._ids.get(token, UNK_ID)

    def token(self, token_id: int) -> str:
        """The token of an id."""
        return self._tokens[int(token_id)]

    def tokenize(self, text: str) -> list[str]:
        """:func:`tokenize` with this vocabulary's kind."""
        return tokenize(text, self.kind)

    def detokenize(self, tokens: Iterable[str]) -> str:
        """:func:`detokenize` with this vocabulary's kind."""
        return detokenize(tokens, self.kind)

    def encode(self, tokens: Iterable[str], add_bos: bool = False, add_eos: bool = False) -> np.ndarray:
        """int32 ids of ``tokens`` (unknown ones -> :data:`UNK_ID`), optionally framed by BOS / EOS."""
        ids = [self._ids.get(token, UNK_ID) for token in tokens]
        return np.asarray(([BOS_ID] if add_bos else []) + ids + ([EOS_ID] if add_eos else []), dtype=np.int32)

    def encode_all(
        self, token_lists: Sequence[Sequence[str]], add_bos: bool = False, add_eos: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Many token lists as one int32 array right-padded with :data:`PAD_ID`, and their lengths."""
        encoded = [self.encode(tokens, add_bos, add_eos) for tokens in token_lists]
        lengths = np.asarray([len(ids) for ids in encoded], dtype=np.int32)
        ids = np.full((len(encoded), int(lengths.max(initial=0))), PAD_ID, dtype=np.int32)
        for row, sequence in enumerate(encoded):
            ids[row, : len(sequence)] = sequence
        return ids, lengths

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` up to the first EOS, without pad and BOS (UNK as ``<unk>``).

        Raises:
            DataError: For an id outside ``0 .. size - 1``.
        """
        tokens = []
        for token_id in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= token_id < self.size:
                raise DataError(f"token id {token_id} is outside the vocabulary range 0..{self.size - 1}")
            if token_id == EOS_ID:
                break
            if token_id not in (PAD_ID, BOS_ID):
                tokens.append(self._tokens[token_id])
        return tokens

    def decode_text(self, ids: Iterable[int]) -> str:
        """:meth:`decode`, detokenized (:func:`detokenize`)."""
        return detokenize(self.decode(ids), self.kind)

    def to_config(self) -> dict[str, Any]:
        """JSON-serialisable form (the run directory keeps it; :meth:`from_config` restores it)."""
        return {"tokens": self.kind, "size": self.size, "reserved": list(RESERVED), "items": self._tokens[4:]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_config`.

        Raises:
            DataError: For a config that is not one, or whose reserved tokens or size differ.
        """
        if not isinstance(config, dict) or not isinstance(config.get("items"), list):
            raise DataError(f"expected a vocabulary config with an 'items' list; got {config!r:.80}")
        if list(config.get("reserved", RESERVED)) != list(RESERVED):
            raise DataError(f"vocabulary reserves {config.get('reserved')!r}; this version reserves {list(RESERVED)}")
        vocabulary = cls(config["items"], config.get("tokens", "word"))
        if "size" in config and config["size"] != vocabulary.size:
            raise DataError(f"vocabulary config says size {config['size']} but holds {vocabulary.size} tokens")
        return vocabulary

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and (self.kind, self._tokens) == (other.kind, other._tokens)

    __hash__ = None  # mutable-looking value object: no hashing

    def __repr__(self) -> str:
        return f"Vocabulary(size={self.size}, kind={self.kind!r})"


__all__ = [
    "BOS",
    "BOS_ID",
    "EOS",
    "EOS_ID",
    "JOINER",
    "PAD",
    "PAD_ID",
    "RESERVED",
    "TOKEN_KINDS",
    "UNK",
    "UNK_ID",
    "Vocabulary",
    "detokenize",
    "tokenize",
]
