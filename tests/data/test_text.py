"""Character corpora: vocabulary, windows, contiguous splits, errors."""

import json

import numpy as np
import pytest

from kerasrnn.data import DataError
from kerasrnn.data.text import (
    BUNDLED_SHAKESPEARE,
    CharVocabulary,
    load_char_corpus,
)

pytestmark = pytest.mark.backend_independent


def test_vocabulary_round_trip():
    text = "hello, world\nÆble — ok"
    vocabulary = CharVocabulary.from_text(text)
    assert vocabulary.size == len(set(text)) == len(vocabulary)
    ids = vocabulary.encode(text)
    assert ids.dtype == np.int32 and ids.max() < vocabulary.size
    assert vocabulary.decode(ids) == text
    restored = CharVocabulary.from_config(json.loads(json.dumps(vocabulary.to_config())))
    assert restored == vocabulary and restored.decode(ids) == text


def test_vocabulary_errors():
    vocabulary = CharVocabulary.from_text("abc")
    with pytest.raises(DataError, match="'z' at position 1"):
        vocabulary.encode("az")
    with pytest.raises(DataError, match="outside the vocabulary"):
        vocabulary.decode([0, 3])
    with pytest.raises(DataError, match="unique"):
        CharVocabulary(["a", "a"])
    with pytest.raises(DataError, match="single characters"):
        CharVocabulary(["ab"])
    with pytest.raises(DataError, match="chars"):
        CharVocabulary.from_config({"tokens": []})


def test_windows_and_contiguous_split(tmp_path):
    text = "".join(chr(ord("a") + (i * 7) % 26) for i in range(2000))
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    data = load_char_corpus(path, seq_len=10)
    assert data.task == "language_model"
    vocabulary = CharVocabulary.from_config(data.info["vocabulary"])
    assert data.num_outputs == vocabulary.size == 26
    assert data.x_train.shape[1] == 10 and data.x_train.dtype == np.int32
    assert data.y_train.shape == data.x_train.shape and data.y_train.dtype == np.int32
    # y is x shifted by one, and windows do not overlap.
    np.testing.assert_array_equal(data.y_train[:, :-1], data.x_train[:, 1:])
    np.testing.assert_array_equal(data.y_train[:-1, -1], data.x_train[1:, 0])
    splits = data.info["split_characters"]
    assert splits == {"train": [0, 1800], "val": [1800, 1900], "test": [1900, 2000]}
    for name, x in (("train", data.x_train), ("val", data.x_val), ("test", data.x_test)):
        start = splits[name][0]
        assert vocabulary.decode(x.reshape(-1)) == text[start : start + x.size]
    assert len(data.x_train) == (1800 - 1) // 10 and len(data.x_test) == (100 - 1) // 10
    assert str(path) in data.source
    json.dumps(data.info)


def test_bundled_shakespeare():
    data = load_char_corpus(seq_len=100)
    assert data.info["md5"] == "6fb458f1232090904fb40fe944165e91"
    assert data.num_outputs == 65
    assert data.info["characters_total"] == 1115394
    assert data.source.startswith(f"bundled tiny-shakespeare {BUNDLED_SHAKESPEARE}")
    vocabulary = CharVocabulary.from_config(data.info["vocabulary"])
    assert vocabulary.decode(data.x_train[0][:14]) == "First Citizen:"
    assert len(data.x_train) == 10038


def test_max_chars():
    data = load_char_corpus(seq_len=50, max_chars=20000)
    assert data.info["characters_used"] == 20000
    assert "first 20,000 of 1,115,394 characters" in data.source


def test_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_char_corpus(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(DataError, match="empty"):
        load_char_corpus(empty)
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"abc\x00\x01\x02" * 100)
    with pytest.raises(DataError, match="binary"):
        load_char_corpus(binary)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\u00e9 ".encode("latin-1") * 100)
    with pytest.raises(DataError, match="not UTF-8"):
        load_char_corpus(latin1)
    short = tmp_path / "short.txt"
    short.write_text("To be or not to be" * 10)
    with pytest.raises(DataError, match="too short"):
        load_char_corpus(short, seq_len=100)
    with pytest.raises(DataError, match="directory"):
        load_char_corpus(tmp_path)
    with pytest.raises(DataError, match="seq_len"):
        load_char_corpus(short, seq_len=0)
    with pytest.raises(DataError, match="leave text"):
        load_char_corpus(short, validation_fraction=0.5, test_fraction=0.5)
