"""--dataset fra-eng and the sentence-pair split it shares with --task seq2seq files."""

from collections import Counter, defaultdict

import numpy as np
import pytest

from kerasrnn.data import fra_eng
from kerasrnn.data.fra_eng import BUNDLED_FRA_ENG, load_fra_eng
from kerasrnn.data.sentence_pairs import read_sentence_pairs
from kerasrnn.data.vocabulary import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary, tokenize
from kerasrnn.errors import DataError
from kerasrnn.training.run_config import RunConfig

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def data():
    return load_fra_eng(seed=0)


@pytest.fixture(scope="module")
def pairs():
    return read_sentence_pairs(BUNDLED_FRA_ENG)[0]


def _rows(x):
    return [tuple(int(i) for i in row[: list(row).index(EOS_ID)]) for row in x]


def test_sizes_and_arrays_follow_the_conventions(data):
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (14408, 1841, 1816)
    assert data.info["split"]["unique_sources"] == {"train": 8780, "val": 1097, "test": 1097}
    assert data.task == "seq2seq" and data.num_outputs == data.info["target_vocabulary"]["size"]
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert x.dtype == np.int32 and y.dtype == np.int32
        assert (y[:, 0] == BOS_ID).all() and ((x == EOS_ID).sum(axis=1) == 1).all()
        for ids in (x, y):  # [..., EOS, 0, 0 ...]: only padding after the EOS
            after_eos = np.cumsum(ids == EOS_ID, axis=1) - (ids == EOS_ID)
            assert (ids[after_eos > 0] == PAD_ID).all()


def test_no_english_sentence_in_two_splits_and_references_are_all_translations(data, pairs):
    # The training vocabulary holds every training token, so a training row has no <unk>; a
    # held-out row equal to a training row is then the same English sentence.
    train = set(_rows(data.x_train))
    assert not any(UNK_ID in row for row in train)
    for split in ("val", "test"):
        assert not train & set(_rows(getattr(data, f"x_{split}"))), split
    known = [{row for row in _rows(getattr(data, f"x_{split}")) if UNK_ID not in row} for split in ("val", "test")]
    assert not known[0] & known[1]

    translations = defaultdict(list)
    for english, french in pairs:
        translations[english.lower()].append(french)
    source_vocabulary = Vocabulary.from_config(data.info["source_vocabulary"])
    rows = Counter(_rows(data.x_test))
    checked = 0
    for row, references in zip(_rows(data.x_test), data.references["test"], strict=True):
        if UNK_ID in row:
            continue
        english = source_vocabulary.decode_text(row)
        assert references == translations[english]  # every French translation, raw text
        assert rows[row] == len(translations[english])  # every pair of the sentence is in the split
        checked += 1
    assert checked > 800


def test_vocabularies_come_from_the_training_split(data):
    vocabulary = Vocabulary.from_config(data.info["target_vocabulary"])
    trained = {token for row in data.y_train for token in vocabulary.decode(row)}
    assert trained == set(vocabulary.tokens[4:])
    assert data.info["unknown_token_rate"]["test"]["target"] > 0  # held-out French has unseen words
    assert vocabulary.kind == "word" and data.info["tokens"] == "word"


def test_split_is_seeded(data, tmp_path):
    assert data.info["split"]["test_sources_sha256_16"] == "cd5998e4111eef5e"  # seed 0, pinned
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"Go {i % 50}.\tVa {i} !\n" for i in range(200)), encoding="utf-8")
    first, again, other = (load_fra_eng(path, seed=seed) for seed in (0, 0, 1))
    assert again.digest() == first.digest() and again.references == first.references
    assert other.info["split"]["test_sources_sha256_16"] != first.info["split"]["test_sources_sha256_16"]
    assert first.info["split"]["unique_sources"] == {"train": 40, "val": 5, "test": 5}


def test_char_tokens_and_run_options(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("".join(f"Go {i}!\tVa {i} !\n" for i in range(30)), encoding="utf-8")
    data = load_fra_eng(path, tokens="char", seed=3)
    vocabulary = Vocabulary.from_config(data.info["target_vocabulary"])
    assert vocabulary.kind == "char" and data.y_train[0, 1] == vocabulary.id("v")
    assert tokenize("Va 1 !", "char") == vocabulary.decode(data.y_train[1])
    config = RunConfig(dataset="fra-eng", tokens="char", min_count=2).resolve()
    assert config.arch == "gru" and config.make_dataset().label() == "fra-eng"
    with pytest.raises(Exception, match="min_count = 2 does not apply to dataset 'mnist'"):
        RunConfig(min_count=2).resolve()


def test_a_damaged_bundle_is_refused(monkeypatch):
    monkeypatch.setattr(fra_eng, "BUNDLED_FRA_ENG_MD5", "0" * 32)
    with pytest.raises(DataError, match="bundled fra-eng .* is missing or damaged: expected md5 0{32}, found fc3c2b"):
        load_fra_eng()
