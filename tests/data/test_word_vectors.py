"""Pretrained word vectors in the word2vec/GloVe text format (kerasrnn.data.word_vectors)."""

import gzip

import numpy as np
import pytest

from kerasrnn.data.vocabulary import PAD_ID, UNK_ID, Vocabulary
from kerasrnn.data.word_vectors import read_word_vectors
from kerasrnn.errors import DataError

pytestmark = pytest.mark.backend_independent

VOCABULARY = Vocabulary(["the", "cat", "sat", "zebra"])


def write(tmp_path, text, name="vectors.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_glove_rows_found_random_and_pad(tmp_path):
    path = write(tmp_path, "the 1 2 3\ncat 4 5 6\ndog 7 8 9\nSat 0.5 0.5 0.5\nsat 1.5 -1 0\n")
    matrix, found = read_word_vectors(path, VOCABULARY)
    assert matrix.dtype == np.float32 and matrix.shape == (8, 3) and found == 3
    assert matrix[VOCABULARY.id("the")].tolist() == [1, 2, 3]
    assert matrix[VOCABULARY.id("sat")].tolist() == [1.5, -1, 0]  # the exact token before a cased one
    assert (matrix[PAD_ID] == 0).all() and np.abs(matrix[UNK_ID]).sum() > 0
    again, _ = read_word_vectors(path, VOCABULARY, seed=0)
    other, _ = read_word_vectors(path, VOCABULARY, seed=1)
    zebra = VOCABULARY.id("zebra")
    assert (again == matrix).all() and (other[zebra] != matrix[zebra]).all()


def test_word2vec_header_cased_tokens_and_gzip(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("2 2\nThe 1 1\nnew york 2 2\n")
    matrix, found = read_word_vectors(path, Vocabulary(["the", "new york"]), dim=2)
    assert found == 2 and matrix[4].tolist() == [1, 1] and matrix[5].tolist() == [2, 2]


@pytest.mark.parametrize(
    "text, dim, message",
    [
        ("the 1 2 3\ncat 4 5\n", None, r"line 2 has 2 values after its token; expected 3 \(as the first vector has\)"),
        ("the 1 2 3\ncat 4 5 6 7\n", None, r"line 2 has 4 values after its token; expected 3"),
        ("the 1 2 3\ncat 4 x 6\n", None, r"line 2: 'x' is not a number"),
        ("the 1 2 3\n", 4, r"line 1 has a 3-dimensional vector; expected 4"),
        ("3 2\nthe 1 2\n", None, r"the header says 3 vectors but the file holds 1 \(truncated\?\)"),
        ("2 5\nthe 1 2\n", 2, r"the header says 5-dimensional vectors; expected 2"),
        ("\n\n", None, r"hold no vector \(empty file\)"),
        ("dog 1 2\n", None, r"none of the 4 tokens of the vocabulary is in its 1 vectors"),
    ],
)
def test_bad_files_name_the_line(tmp_path, text, dim, message):
    with pytest.raises(DataError, match=message):
        read_word_vectors(write(tmp_path, text), VOCABULARY, dim=dim)


def test_binary_and_missing_files_are_refused(tmp_path):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"2 2\nthe \x00\x00\x80?\x00\x00\x80?\n")
    with pytest.raises(DataError, match="line 2 holds a NUL byte; expected the word2vec/GloVe text format"):
        read_word_vectors(path, VOCABULARY)
    with pytest.raises(DataError, match="word vectors not found"):
        read_word_vectors(tmp_path / "missing.txt", VOCABULARY)
