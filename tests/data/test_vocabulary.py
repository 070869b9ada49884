"""Tokenization and vocabularies (kerasrnn.data.vocabulary): rules, round trips, reserved ids."""

import json
from pathlib import Path

import numpy as np
import pytest

from kerasrnn.data.vocabulary import (
    BOS_ID,
    EOS_ID,
    JOINER,
    PAD_ID,
    UNK,
    UNK_ID,
    Vocabulary,
    detokenize,
    tokenize,
)
from kerasrnn.errors import DataError

pytestmark = pytest.mark.backend_independent

FRA_ENG = Path(__file__).resolve().parents[2] / "kerasrnn" / "data" / "bundled" / "fra-eng" / "fra-eng.txt"


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Run!", ["run", "!"]),
        ("Va !", ["va", " !"]),  # French spacing is kept in the token
        ("Quoi d’autre\u202f?", ["quoi", "d’", "autre", "\u202f?"]),
        ("J'ai vu aujourd'hui.", ["j'", "ai", "vu", "aujourd'hui", "."]),
        ("Qu'a-t-il dit ?", ["qu'", "a-t-il", "dit", " ?"]),
        (
            "I'm sure you don't know Tom's dog.",
            ["i", "'m", "sure", "you", "do", "n't", "know", "tom", "'s", "dog", "."],
        ),
        ("It's 3:30, $5 (or 1,000%).", ["it", "'s", "3:30", ",", "$", "5", "(", "or", "1,000", "%", ")", "."]),
        ("Wow... O'clock!!", ["wow", "...", "o'clock", "!!"]),
        ('She said "no".', ["she", "said", '"', "no", '"', "."]),
        ("Ελληνικά, नमस्ते दुनिया", ["ελληνικά", ",", "नमस्ते", "दुनिया"]),  # combining marks stay in words
        ("U.S.", ["u", ".", JOINER + "s", "."]),  # no space where one is usual: the joiner says so
        ("  Padded  ", ["padded"]),
        ("", []),
    ],
)
def test_word_tokens_follow_the_documented_rules(text, tokens):
    assert tokenize(text) == tokens
    assert detokenize(tokens) == text.strip().lower()


def test_char_tokens_are_the_lower_cased_characters():
    assert tokenize(" Ça va ?", tokens="char") == ["ç", "a", " ", "v", "a", " ", "?"]
    assert detokenize(["ç", "a", " ", "?"], "char") == "ça ?"
    with pytest.raises(DataError, match="tokens must be 'word' or 'char'; got 'words'"):
        tokenize("x", tokens="words")


def test_fra_eng_sentences_round_trip():
    """detokenize(tokenize(s)) == s.lower() for the English and French of every bundled pair."""
    sentences = [side for line in FRA_ENG.read_text("utf-8").splitlines() for side in line.split("\t")]
    failures = [s for s in sentences if detokenize(tokenize(s)) != s.lower()]
    assert len(sentences) == 36130 and not failures, failures[:5]


def test_build_orders_by_count_then_code_point_and_applies_min_count_and_max_size():
    texts = [["b", "a", "c"], ["a", "c", "d"], ["a", "e"]]
    vocabulary = Vocabulary.build(texts)
    assert vocabulary.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "c", "b", "d", "e"]
    assert Vocabulary.build(texts, min_count=2).tokens[4:] == ["a", "c"]
    assert Vocabulary.build(texts, max_size=3).tokens[4:] == ["a", "c", "b"]
    assert Vocabulary.build(texts, max_size=3).size == 7
    assert Vocabulary.build(list(reversed(texts))) == vocabulary  # ties do not depend on the order
    with pytest.raises(DataError, match="min_count must be an integer >= 1; got 0"):
        Vocabulary.build(texts, min_count=0)


def test_encode_decode_reserved_ids_and_unknown_tokens():
    vocabulary = Vocabulary.build([tokenize("Je suis là.")])
    ids = vocabulary.encode(tokenize("Je suis ici."), add_bos=True, add_eos=True)
    assert ids.dtype == np.int32 and ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert ids[3] == UNK_ID and (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3) and ids[1:3].min() >= 4
    assert vocabulary.decode(ids) == ["je", "suis", UNK, "."]
    # Decoding stops at the first EOS and skips pad and BOS.
    assert vocabulary.decode([BOS_ID, ids[1], PAD_ID, ids[2], EOS_ID, ids[1]]) == ["je", "suis"]
    assert vocabulary.decode_text(vocabulary.encode(tokenize("Je suis là."))) == "je suis là."
    with pytest.raises(DataError, match="token id 99 is outside the vocabulary range 0..7"):
        vocabulary.decode([99])
    batch, lengths = vocabulary.encode_all([["je"], ["je", "suis"]], add_eos=True)
    je, suis = vocabulary.id("je"), vocabulary.id("suis")
    assert batch.tolist() == [[je, EOS_ID, PAD_ID], [je, suis, EOS_ID]] and lengths.tolist() == [2, 3]


def test_config_round_trip_keeps_tokens_and_kind():
    vocabulary = Vocabulary.build([list("abca")], kind="char")
    config = json.loads(json.dumps(vocabulary.to_config()))
    assert config["tokens"] == "char" and config["size"] == 7
    restored = Vocabulary.from_config(config)
    assert restored == vocabulary and restored.kind == "char"
    assert restored != Vocabulary(vocabulary.tokens[4:], kind="word")
    with pytest.raises(DataError, match="says size 8 but holds 7"):
        Vocabulary.from_config({**config, "size": 8})
    with pytest.raises(DataError, match="must not include the reserved <pad>"):
        Vocabulary(["<pad>", "a"])


def test_round_trip_of_random_texts():
    """Any text without the joiner comes back, whatever its spacing, quotes and apostrophes."""
    pieces = list("ab1 .,!?'’\"«»()-$%:;…é\u202f\u00a0\t\u0301_") + ["don't", "j'ai", "l'", "'s", "n't", "  "]
    rng = np.random.default_rng(0)
    for _ in range(3000):
        text = "".join(rng.choice(pieces, size=rng.integers(0, 12)))
        assert detokenize(tokenize(text)) == text.strip().lower(), repr(text)
        assert detokenize(tokenize(text, "char"), "char") == text.strip().lower()
